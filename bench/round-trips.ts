/**
 * Store round trips, counted inside a benchmark server (bench/server.ts) by operation: calls into an in-memory
 * store (the embedded store, MemoryStore), commands a node-redis client sends, queries a `pg` pool runs.
 * Counting wraps the objects in place, after the app is built, so the module sees the store as it was given
 * (its changed-key writes are looked up once, when the app starts). A wrapper is one increment per call.
 */
import type { Store } from 'express-session';

/** Round trips by operation since the server started. */
export const roundTrips: Record<string, number> = {};

function tally(operation: string): void {
  roundTrips[operation] = (roundTrips[operation] ?? 0) + 1;
}

type AnyFunction = (...args: unknown[]) => unknown;

/** Replaces `target[key]` by a function that counts under `operation`, then calls the original. */
function wrap(target: Record<PropertyKey, unknown>, key: PropertyKey, operation: string): void {
  const original = target[key];
  if (typeof original !== 'function') return;
  const counted = function (this: unknown, ...args: unknown[]): unknown {
    tally(operation);
    return (original as AnyFunction).apply(this, args);
  };
  Object.defineProperty(target, key, { value: counted, writable: true, configurable: true, enumerable: false });
}

/** The symbol under which the module's stores keep their changed-key writes (see lib/stores/changed-key-writes.ts). */
const CHANGED_KEY_WRITES = Symbol.for('nest-express-session:changed-key-writes');

/** Counts the calls into an in-memory store: its express-session methods and its changed-key writes, if any. */
export function countStoreCalls(store: Store): void {
  const target = store as unknown as Record<PropertyKey, unknown>;
  for (const method of ['get', 'set', 'touch', 'destroy']) wrap(target, method, method);
  const keyed = target[CHANGED_KEY_WRITES] as Record<PropertyKey, unknown> | undefined;
  // In place: the module keeps a reference to this object.
  if (keyed) for (const method of ['patch', 'replace']) wrap(keyed, method, method);
}

/**
 * Counts the commands a node-redis client sends, one per command whatever a script does inside Redis.
 * Every command of a `createClient()` client goes through `sendCommand` of the client underneath its
 * proxies (`_self`), so that is where the count goes.
 */
export function countRedisCommands(client: object): void {
  const self = ((client as { _self?: object })._self ?? client) as Record<PropertyKey, unknown>;
  const original = self.sendCommand;
  if (typeof original !== 'function') throw new Error('this node-redis client has no sendCommand to count');
  const counted = function (this: unknown, args: unknown[], ...rest: unknown[]): unknown {
    tally(String(args[0]).toLowerCase());
    return (original as AnyFunction).call(this, args, ...rest);
  };
  Object.defineProperty(self, 'sendCommand', { value: counted, writable: true, configurable: true });
}

/** Counts the queries run through a `pg` pool, by their first SQL word. */
export function countQueries(pool: object): void {
  const target = pool as Record<PropertyKey, unknown>;
  const original = target.query;
  if (typeof original !== 'function') throw new Error('this pool has no query to count');
  target.query = function (this: unknown, text: unknown, ...rest: unknown[]): unknown {
    const config = (text as { text?: unknown } | null)?.text;
    const sql = typeof text === 'string' ? text : typeof config === 'string' ? config : '';
    tally(/^\s*(\w+)/.exec(sql)?.[1]?.toLowerCase() ?? 'query');
    return (original as AnyFunction).call(this, text, ...rest);
  };
}
