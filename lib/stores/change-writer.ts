import type { Logger } from '@nestjs/common';
import type { SessionData, Store } from 'express-session';
import { hashId } from '../log-format.js';
import { withFormsState } from '../forms/forms-state.js';
import { sessionStateOf } from '../session-state.js';
import type { SessionSnapshot, SessionState } from '../session-state.js';
import { cookieExpiry } from './changed-key-writes.js';
import type { ChangedKeyWrites, RecordWrite } from './changed-key-writes.js';
import { KeyedQueue } from './keyed-queue.js';
import type { Callback, StoreCaller } from './store-call.js';
import {
  changedValues,
  isIndexed,
  mergeChanges,
  META_KEY,
  recordProblem,
  sameValues,
  takeMeta,
  toRecord,
} from './session-record.js';
import type { RecordMeta } from './session-record.js';

type Data = Record<string, unknown>;

/** What the writer works with (internal). */
export interface ChangeWriterOptions {
  inner: Store;
  /** The store's changed-key writes, when it has them. */
  keyed?: ChangedKeyWrites;
  caller: StoreCaller;
  logger: Logger;
  /** Whether records carry the module's timestamps (only an idle or absolute timeout reads them). */
  stamped: boolean;
  /** Whether the store keeps a per-user index: the records of its logged-in sessions carry the timestamps too. */
  indexed: boolean;
}

/**
 * How the guarded store writes a request's session: only the keys this request set or removed go into the
 * latest stored copy, and a session destroyed meanwhile (logout elsewhere) or expired is not written back.
 * A store with changed-key writes applies the change itself, in one step; any other store is read first and
 * the change merged into what it holds, with this process's writes and removals of one id one after another
 * (internal).
 */
export class ChangeWriter {
  /** Writes and removals of one session id, one after another (stores without changed-key writes). */
  private readonly queue = new KeyedQueue();

  constructor(private readonly options: ChangeWriterOptions) {}

  /**
   * Stores a request's session, whose values are serialised in `values`, and records what was written in
   * the session's state. `callback` gets `true` when the store was written, `false` when nothing needed
   * writing or the session was destroyed meanwhile.
   */
  save(sid: string, session: SessionData, values: Map<string, string>, callback: Callback<boolean>): void {
    const state = sessionStateOf(session);
    // A request's session is stored with its expiry renewed, as express-session renews it before its own save:
    // a session changed on every request would otherwise keep the expiry it was loaded with.
    if (state) (session as { resetMaxAge?: () => void }).resetMaxAge?.();
    const snapshot = state?.snapshot.sid === sid ? state.snapshot : undefined;
    if (snapshot?.written && sameValues(snapshot.values, values)) {
      // Written by this request already: express-session saving again at the end adds nothing.
      callback(null, false);
      return;
    }
    const now = Date.now();
    const meta = withIndexed({ createdAt: (snapshot && state?.createdAt) || now, lastSeen: now }, state);
    const done: Callback<boolean> = (err, written) => {
      if (written && state) {
        state.snapshot = { sid, values, stored: true, written: true };
        state.createdAt = meta.createdAt;
      }
      callback(err, written);
    };
    const { keyed } = this.options;
    if (keyed) {
      if (snapshot?.stored) {
        const { set, unset } = changedValues(snapshot.values, values);
        this.patch(sid, this.recordWrite(session, set, unset, meta), done);
      } else {
        const write = this.recordWrite(session, new Map(values), [], meta);
        this.options.caller.call(
          'set',
          (cb) => keyed.replace(sid, write, cb),
          (err) => done(err, !err),
        );
      }
    } else if (snapshot?.stored) {
      this.merge(sid, session, snapshot, values, meta, done);
    } else {
      this.store(sid, this.record(session, meta), done);
    }
  }

  /** Writes an unchanged loaded session again with a new last-seen time (what an idle timeout reads). */
  refresh(sid: string, session: SessionData, state: SessionState, callback: Callback<boolean>): void {
    const snapshot = state.snapshot;
    const meta = withIndexed({ createdAt: state.createdAt || Date.now(), lastSeen: Date.now() }, state);
    if (this.options.keyed) this.patch(sid, this.recordWrite(session, new Map(), [], meta), callback);
    else this.merge(sid, session, snapshot, snapshot.values, meta, callback);
  }

  /** Removes a session, after any write of it this process has under way (stores without changed-key writes). */
  destroy(sid: string, callback: Callback): void {
    const remove = (finish: Callback): void =>
      this.options.caller.call('destroy', (cb) => this.options.inner.destroy(sid, cb), finish);
    if (this.options.keyed) remove(callback);
    else this.queue.run(sid, callback, remove);
  }

  /** The write of `set` and `unset`, with the cookie, the expiry, and the module's timestamps when they are kept. */
  private recordWrite(session: SessionData, set: Map<string, string>, unset: string[], meta: RecordMeta): RecordWrite {
    if (this.stamps(session)) set.set(META_KEY, JSON.stringify(meta));
    return { set, unset, cookie: JSON.stringify(session.cookie), expires: cookieExpiry(session.cookie) };
  }

  /** Applies a change through the store's changed-key writes; a record that is gone stays gone. */
  private patch(sid: string, write: RecordWrite, callback: Callback<boolean>): void {
    this.options.caller.call<boolean>(
      'set',
      (cb) => this.options.keyed!.patch(sid, write, cb),
      (err, applied) => {
        if (!err && !applied) this.dropped(sid);
        callback(err, applied === true);
      },
    );
  }

  /** Reads the latest stored copy and writes this request's changes from `snapshot` to `after` into it. */
  private merge(
    sid: string,
    session: SessionData,
    snapshot: SessionSnapshot,
    after: Map<string, string>,
    meta: RecordMeta,
    callback: Callback<boolean>,
  ): void {
    this.queue.run(sid, callback, (finish) =>
      this.options.caller.call<Data | null>(
        'get',
        (cb) => this.options.inner.get(sid, cb as Callback<SessionData | null>),
        (err, latest) => {
          if (err) return finish(err);
          if (latest == null || recordProblem(latest, {}) !== undefined) {
            this.dropped(sid);
            return finish(null, false);
          }
          const previous = takeMeta(latest);
          const record = mergeChanges(latest, session, snapshot.values, after);
          const stamp = { ...meta, createdAt: previous?.createdAt ?? meta.createdAt };
          this.store(sid, this.record(record, stamp), finish);
        },
      ),
    );
  }

  private dropped(sid: string): void {
    this.options.logger.debug?.(
      `Session ${hashId(sid)} was destroyed while a request used it; its changes were dropped`,
    );
  }

  /** The record to store: the session, with the module's timestamps when a timeout needs them. */
  private record(session: object, meta: RecordMeta): Data {
    const data = withFormsState(session);
    return this.stamps(session) ? toRecord(data, meta) : (data as Data);
  }

  /** Whether a session's record carries the module's timestamps: a timeout reads them, the session index too. */
  private stamps(session: object): boolean {
    return this.options.stamped || (this.options.indexed && isIndexed(session));
  }

  private store(sid: string, record: Data, callback: Callback<boolean>): void {
    this.options.caller.call(
      'set',
      (cb) => this.options.inner.set(sid, record as unknown as SessionData, cb),
      (err) => callback(err, !err),
    );
  }
}

/** The timestamps, with the session's index expiry when it has one. */
function withIndexed(meta: RecordMeta, state: SessionState | undefined): RecordMeta {
  if (state?.indexedUntil !== undefined) meta.indexedUntil = state.indexedUntil;
  return meta;
}
