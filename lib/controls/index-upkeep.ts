import type { SessionModuleOptions } from '../interfaces/index.js';
import { cookieExpiry } from '../stores/changed-key-writes.js';
import { handleOf, META_KEY } from '../stores/session-record.js';
import type { RecordMeta } from '../stores/session-record.js';
import type { SessionIndex } from './session-index.js';

/** How long the session of a cookie without an expiry (a browser-session cookie) lives in the stores: their default. */
const DEFAULT_LIFETIME = 86_400_000;

type Data = Record<string, unknown>;

/**
 * Until when an index entry is kept after a use at `now`: one more lifetime past the session's expiry (the
 * cookie's, or sooner when the idle timeout ends it first), never past the absolute timeout. The margin is what
 * lets a session's uses renew its entry only now and then; every read of the index checks entries against
 * their records, so an entry of a session that ended is never listed or counted (internal).
 */
export function entryKeptUntil(
  options: Pick<SessionModuleOptions, 'idleTimeout' | 'absoluteTimeout'>,
  now: number,
  expiresAt: number | null,
  createdAt?: number,
): number {
  let ends = expiresAt ?? now + DEFAULT_LIFETIME;
  if (options.idleTimeout) ends = Math.min(ends, now + options.idleTimeout);
  const until = ends + Math.max(0, ends - now);
  return options.absoluteTimeout && createdAt ? Math.min(until, createdAt + options.absoluteTimeout) : until;
}

/** The last use a stored record carries (the module's timestamps), if any. */
export function lastSeenOf(record: object): number | undefined {
  const meta = (record as Data)[META_KEY] as Partial<RecordMeta> | undefined;
  return typeof meta?.lastSeen === 'number' ? meta.lastSeen : undefined;
}

/**
 * Before a login counts against the limit: when the user has `limit` entries besides `handle`, each one's record
 * is read, the entries of sessions that ended leave the index, and the others take their last use from their
 * record (where each request records it), so that the least recently used session is the one evicted. The
 * count itself stays the index's atomic step (internal).
 */
export async function freshen(
  index: SessionIndex,
  read: (sid: string) => Promise<Data | null>,
  userKey: string,
  handle: string,
  limit: number,
): Promise<void> {
  const entries = (await index.list(userKey)).filter((entry) => entry.handle !== handle);
  if (entries.length < limit) return;
  const records = await Promise.all(entries.map((entry) => read(entry.sid)));
  const gone: string[] = [];
  const renewed: Promise<void>[] = [];
  entries.forEach((entry, i) => {
    const record = records[i];
    if (!record || handleOf(record) !== entry.handle) return void gone.push(entry.handle);
    const lastSeen = lastSeenOf(record) ?? entry.lastSeenAt;
    if (lastSeen === entry.lastSeenAt) return;
    renewed.push(index.seen(userKey, entry.handle, lastSeen, cookieExpiry(record.cookie) ?? null, entry.keepUntil));
  });
  await Promise.all(renewed);
  if (gone.length > 0) await index.remove(userKey, { handles: gone });
}
