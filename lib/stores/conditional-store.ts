import type { SessionData, Store } from 'express-session';
import type { Callback } from './store-call.js';

/**
 * A store that can write a session only if it is still as a request read it. Each record read comes with its
 * revision (the stored text); `setIf` writes only when the stored record is still at that revision, and
 * otherwise hands back the latest record, or says it is gone. The guarded store then writes a changed session in
 * one step when no other request wrote it since it was read, and merges only when one did (internal; the
 * embedded store, redisStore() and postgresStore() have it; any other store is read again before each write).
 */
export const CONDITIONAL = Symbol.for('nest-express-session:conditional-store');

/** What `setIf` found: written (with the new revision), the record gone, or changed since (with the latest). */
export type SetIfResult =
  | { status: 'written'; revision: string }
  | { status: 'gone' }
  | { status: 'changed'; latest: unknown; revision: string };

/** The conditional-write capability (internal). */
export interface ConditionalWrites {
  /** Reads a record (parsed) and its revision. */
  get(sid: string, callback: Callback<{ record: unknown; revision: string } | null>): void;
  /** Writes `record` only if the stored record is still at `revision`. */
  setIf(sid: string, record: object, revision: string, callback: Callback<SetIfResult>): void;
  /** The store's own `get` and `set`, which these two stand in for. */
  replaces: { get: unknown; set: unknown };
}

/** A store with conditional writes (internal). */
export interface ConditionalStore {
  [CONDITIONAL]: ConditionalWrites;
}

/**
 * The store's conditional-write capability, when it has one and the store's `get` and `set` are still its
 * own: a subclass that overrides either (to encrypt, to log) is read and written through them, never around.
 */
export function conditionalOf(store: object): ConditionalWrites | undefined {
  const capability = (store as Partial<ConditionalStore>)[CONDITIONAL];
  if (!capability || typeof capability.setIf !== 'function') return undefined;
  const { get, set } = store as { get?: unknown; set?: unknown };
  return get === capability.replaces.get && set === capability.replaces.set ? capability : undefined;
}

/** Carries a loaded record's revision from the store's `get` to express-session's `createSession` (JSON skips symbols). */
const LOADED_REVISION = Symbol('loaded revision');

/** Reads a record from `store`, through its conditional reads when it has them, so the record carries its revision. */
export function readRecord(
  store: Store,
  conditional: ConditionalWrites | undefined,
  sid: string,
  callback: Callback<Record<string, unknown> | null>,
): void {
  if (!conditional) {
    store.get(sid, callback as Callback<SessionData | null>);
    return;
  }
  conditional.get(sid, (err, found) => {
    if (err || !found) return callback(err, null);
    const record = found.record as Record<string, unknown>;
    if (record && typeof record === 'object') (record as { [LOADED_REVISION]?: string })[LOADED_REVISION] = found.revision;
    callback(null, record);
  });
}

/** The revision a record read by {@link readRecord} carries, if any. */
export function loadedRevision(record: object): string | undefined {
  return (record as { [LOADED_REVISION]?: string })[LOADED_REVISION];
}
