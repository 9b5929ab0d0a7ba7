import type { Store } from 'express-session';
import { EmbeddedStore, PostgresSessionStore, RedisSessionStore } from 'nest-express-session';
import { defer } from './cleanup.js';
import type { Cleanup } from './cleanup.js';

/** The store round trips counted since `countRoundTrips` was called. */
export interface RoundTrips {
  /** Calls that read a session. */
  reads: number;
  /** Calls that write, touch or remove one. */
  writes: number;
}

/** The symbol under which a store the module ships keeps its changed-key writes (`Symbol.for`: one per process). */
const CHANGED_KEY_WRITES = Symbol.for('nest-express-session:changed-key-writes');

/**
 * Counts from now until the test `t` ends the round trips a store the module ships makes: the embedded store's
 * calls, the commands redisStore() sends through its client, the statements postgresStore() sends through its
 * pool. Undefined for any other store. Call it once the store has served a request (its client or pool exists).
 */
export function countRoundTrips(t: Cleanup, store: Store): RoundTrips | undefined {
  const trips: RoundTrips = { reads: 0, writes: 0 };
  const read = (): void => void (trips.reads += 1);
  const write = (): void => void (trips.writes += 1);
  if (store instanceof EmbeddedStore) {
    // Counted on the prototype, for this instance only: a `get` or `set` of the instance's own would make the
    // module stop using the store's changed-key writes (it uses them only while those are the class's own).
    const mine = (count: () => void) => (self: unknown) => (self === store ? count() : undefined);
    spy(t, EmbeddedStore.prototype, ['get'], mine(read));
    spy(t, EmbeddedStore.prototype, ['set', 'touch', 'destroy'], mine(write));
    spy(t, (store as unknown as Record<symbol, object>)[CHANGED_KEY_WRITES], ['replace', 'patch'], write);
    return trips;
  }
  if (store instanceof RedisSessionStore) {
    const client = store.client as unknown as object;
    spy(t, client, ['hGetAll', 'get'], read);
    spy(t, client, ['evalSha', 'eval', 'del', 'pExpire'], write);
    return trips;
  }
  if (store instanceof PostgresSessionStore) {
    spy(t, store.pool as object, ['query'], (_self, [text]) => (/^\s*SELECT\b/i.test(String(text)) ? read() : write()));
    return trips;
  }
  return undefined;
}

/** Calls `count` before each call of the named methods of `target`, until the test `t` ends. */
function spy(t: Cleanup, target: object, names: string[], count: (self: unknown, args: unknown[]) => void): void {
  const methods = target as Record<string, unknown>;
  for (const name of names) {
    const original = methods[name];
    if (typeof original !== 'function') throw new TypeError(`no method ${name} to count`);
    const own = Object.prototype.hasOwnProperty.call(target, name);
    methods[name] = function (this: unknown, ...args: unknown[]): unknown {
      count(this, args);
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
    defer(t, () => {
      if (own) methods[name] = original;
      else delete methods[name];
    });
  }
}
