/**
 * Memory of the embedded store holding N sessions: `node --expose-gc out/bench/memory.js <N>`.
 * Prints one JSON line: heap and RSS before and after filling, after full collections.
 */
import { randomBytes } from 'node:crypto';
import type { SessionData } from 'express-session';
import { EmbeddedStore } from 'nest-express-session';

const gc = (globalThis as { gc?: () => void }).gc;

function settle(): NodeJS.MemoryUsage {
  for (let i = 0; i < 4; i++) gc?.();
  return process.memoryUsage();
}

/** What express-session stores for a visited session with a one-day cookie and a small counter. */
function sessionRecord(i: number): SessionData {
  return {
    cookie: {
      originalMaxAge: 86_400_000,
      expires: new Date(Date.now() + 86_400_000),
      httpOnly: true,
      path: '/',
      sameSite: 'lax',
    },
    views: i % 100,
  } as unknown as SessionData;
}

async function main(): Promise<void> {
  const count = Number(process.argv[2]);
  if (!Number.isInteger(count) || count < 1) throw new Error('usage: node --expose-gc out/bench/memory.js <sessions>');
  if (!gc) throw new Error('run with --expose-gc');
  // Ids as express-session makes them: 24 random bytes in base64url (32 characters).
  const ids = randomBytes(24 * count);
  const before = settle();
  const store = new EmbeddedStore({ maxSessions: count });
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const sid = ids.subarray(i * 24, i * 24 + 24).toString('base64url');
    store.set(sid, sessionRecord(i));
  }
  const fillMs = Number(process.hrtime.bigint() - started) / 1e6;
  const held = await new Promise<number>((resolve, reject) =>
    store.length((err, n) =>
      err ? reject(err instanceof Error ? err : new Error('store.length() failed', { cause: err })) : resolve(n ?? 0),
    ),
  );
  const after = settle();
  const result = {
    sessions: count,
    held,
    fillMs: Math.round(fillMs),
    heapUsedMB: mb(after.heapUsed - before.heapUsed),
    rssMB: mb(after.rss - before.rss),
    bytesPerSession: Math.round((after.heapUsed - before.heapUsed) / count),
    heapTotalMB: mb(after.heapUsed),
    rssTotalMB: mb(after.rss),
    baselineHeapMB: mb(before.heapUsed),
    baselineRssMB: mb(before.rss),
  };
  store.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function mb(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}

main().catch((err: unknown) => {
  process.stderr.write(`memory bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
