import type { Logger } from '@nestjs/common';
import type { SessionData, Store } from 'express-session';
import { hashId } from '../log-format.js';
import { sessionStateOf } from '../session-state.js';
import type { SessionSnapshot, SessionState } from '../session-state.js';
import type { ConditionalWrites, SetIfResult } from './conditional-store.js';
import { KeyedQueue } from './keyed-queue.js';
import type { Callback, StoreCaller } from './store-call.js';
import { mergeChanges, recordProblem, sameValues, takeMeta, toRecord } from './session-record.js';
import type { RecordMeta } from './session-record.js';

/** Conditional writes of one session in a row that may find it changed again before the module gives up. */
const MAX_CONFLICTS = 5;

type Data = Record<string, unknown>;

/** A write that reached the store, with the store's new revision of the record when the store has revisions. */
export interface Written {
  revision?: string;
}

/** What the writer works with (internal). */
export interface ChangeWriterOptions {
  inner: Store;
  conditional?: ConditionalWrites;
  caller: StoreCaller;
  logger: Logger;
  /** Whether records carry the module's timestamps (only an idle or absolute timeout reads them). */
  stamped: boolean;
}

/**
 * How the guarded store writes a request's session: this request's changes go into the latest stored copy,
 * and a session destroyed meanwhile (logout elsewhere) or expired is not written back. On a store with
 * conditional writes a session is written in one step if nothing else wrote it since this request read it,
 * and merged into the copy the store hands back if something did. On any other store the latest copy is
 * read first, and this process's writes and removals of one id run one after another (internal).
 */
export class ChangeWriter {
  /** Writes and removals of one session id, one after another (stores without conditional writes). */
  private readonly queue = new KeyedQueue();

  constructor(private readonly options: ChangeWriterOptions) {}

  /**
   * Stores a request's session, whose values are serialised in `values`, and records what was written in
   * the session's state. `callback` gets what reached the store, or nothing when nothing needed writing or
   * the session was destroyed meanwhile.
   */
  save(sid: string, session: SessionData, values: Map<string, string>, callback: Callback<Written | undefined>): void {
    const state = sessionStateOf(session);
    // A request's session is stored with its expiry renewed, as express-session renews it before its own save:
    // a session changed on every request would otherwise keep the expiry it was loaded with.
    if (state) (session as { resetMaxAge?: () => void }).resetMaxAge?.();
    const snapshot = state?.snapshot.sid === sid ? state.snapshot : undefined;
    if (snapshot?.written && sameValues(snapshot.values, values)) {
      // Written by this request already: express-session saving again at the end adds nothing.
      callback();
      return;
    }
    const now = Date.now();
    const meta: RecordMeta = { createdAt: (snapshot && state?.createdAt) || now, lastSeen: now };
    const done: Callback<Written | undefined> = (err, written) => {
      if (written && state) {
        state.snapshot = { sid, values, stored: true, written: true, revision: written.revision };
        state.createdAt = meta.createdAt;
      }
      callback(err, written);
    };
    if (snapshot?.stored) this.merge(sid, session, snapshot, values, meta, done);
    else this.store(sid, this.record(session, meta), done);
  }

  /** Writes an unchanged loaded session again with a new last-seen time (what an idle timeout reads). */
  refresh(sid: string, session: SessionData, state: SessionState, callback: Callback<Written | undefined>): void {
    const snapshot = state.snapshot;
    const meta: RecordMeta = { createdAt: state.createdAt || Date.now(), lastSeen: Date.now() };
    this.merge(sid, session, snapshot, snapshot.values, meta, (err, written) => {
      if (written) snapshot.revision = written.revision;
      callback(err, written);
    });
  }

  /** Removes a session, after any write of it this process has under way. */
  destroy(sid: string, callback: Callback): void {
    this.queue.run(sid, callback, (finish) =>
      this.options.caller.call('destroy', (cb) => this.options.inner.destroy(sid, cb), finish),
    );
  }

  /** Writes the keys that changed from `snapshot` to `after` into the latest stored copy of the session. */
  private merge(
    sid: string,
    session: SessionData,
    snapshot: SessionSnapshot,
    after: Map<string, string>,
    meta: RecordMeta,
    callback: Callback<Written | undefined>,
  ): void {
    const merged = (latest: Data): Data => {
      const previous = takeMeta(latest);
      const record = mergeChanges(latest, session, snapshot.values, after);
      return this.record(record, { createdAt: previous?.createdAt ?? meta.createdAt, lastSeen: meta.lastSeen });
    };
    const { conditional, caller } = this.options;
    if (conditional && snapshot.revision !== undefined) {
      // A conditional write finds a concurrent one by itself: no queue.
      const attempt = (record: Data, revision: string, conflicts: number): void => {
        caller.call<SetIfResult>(
          'set',
          (cb) => conditional.setIf(sid, record, revision, cb),
          (err, result) => {
            if (err || !result) return callback(err ?? new Error('store setIf gave no result'));
            if (result.status === 'written') return callback(null, { revision: result.revision });
            if (result.status === 'gone' || !this.live(sid, result.latest)) return callback();
            if (conflicts >= MAX_CONFLICTS) {
              return callback(new Error(`Session ${hashId(sid)} kept changing under concurrent writes; not saved`));
            }
            attempt(merged(result.latest as Data), result.revision, conflicts + 1);
          },
        );
      };
      attempt(this.record(session, meta), snapshot.revision, 0);
      return;
    }
    this.queue.run(sid, callback, (finish) =>
      caller.call<Data | null>(
        'get',
        (cb) => this.options.inner.get(sid, cb as Callback<SessionData | null>),
        (err, latest) => {
          if (err) return finish(err);
          if (!this.live(sid, latest)) return finish();
          this.store(sid, merged(latest as Data), finish);
        },
      ),
    );
  }

  /** Whether the latest stored copy is a session to write into; if not, this request's changes are dropped. */
  private live(sid: string, latest: unknown): boolean {
    if (latest != null && recordProblem(latest, {}) === undefined) return true;
    this.options.logger.debug?.(`Session ${hashId(sid)} was destroyed while a request used it; its changes were dropped`);
    return false;
  }

  /** The record to store: the session, with the module's timestamps when a timeout needs them. */
  private record(session: object, meta: RecordMeta): Data {
    return this.options.stamped ? toRecord(session, meta) : (session as Data);
  }

  private store(sid: string, record: Data, callback: Callback<Written | undefined>): void {
    this.options.caller.call(
      'set',
      (cb) => this.options.inner.set(sid, record as unknown as SessionData, cb),
      (err) => (err ? callback(err) : callback(null, {})),
    );
  }
}
