import { createHash } from 'node:crypto';

/** A short, irreversible name for a session id, fit for logs: the first 12 hex digits of its SHA-256. */
export function hashId(sid: string): string {
  return createHash('sha256').update(sid).digest('hex').slice(0, 12);
}

/** An error's name and message, never its stack. */
export function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
