import type { Logger } from '@nestjs/common';
import type { SessionData, Store } from 'express-session';
import { hashId, KeyedQueue } from './store-call.js';
import type { Callback, CONDITIONAL, ConditionalStore, SetIfResult } from './store-call.js';
import type { SessionSnapshot } from '../session-request.js';
import { mergeChanges, recordProblem, takeMeta, toRecord } from './session-record.js';
import type { RecordMeta } from './session-record.js';

/** Conditional writes of one session in a row that may find it changed again before the module gives up. */
const MAX_CONFLICTS = 5;

type Data = Record<string, unknown>;

/** One guarded store call: fails fast while disconnected, turns throws into errors, enforces the deadline. */
export type GuardedCall = <T>(operation: string, invoke: (cb: Callback<T>) => void, callback?: Callback<T>) => void;

/** Runs once a record is stored, with the store's new revision of it when the store has revisions. */
export type Remember = (revision?: string) => void;

/** What the writer needs from the guarded store (internal). */
export interface ChangeWriterOptions {
  inner: Store;
  conditional?: ConditionalStore[typeof CONDITIONAL];
  call: GuardedCall;
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

  /** Stores a session that has no stored copy to merge with (new, or regenerated). */
  put(sid: string, session: SessionData, meta: RecordMeta, remember: Remember, callback: Callback): void {
    this.store(sid, this.record(session, meta), remember, callback);
  }

  /** Writes the keys that changed from `snapshot` to `after` into the latest stored copy of the session. */
  write(
    sid: string,
    session: SessionData,
    snapshot: SessionSnapshot,
    after: Map<string, string>,
    meta: RecordMeta,
    remember: Remember,
    callback: Callback,
  ): void {
    const merge = (latest: Data): Data => {
      const previous = takeMeta(latest);
      const record = mergeChanges(latest, session, snapshot.values, after);
      return this.record(record, { createdAt: previous?.createdAt ?? meta.createdAt, lastSeen: meta.lastSeen });
    };
    const { conditional } = this.options;
    if (conditional && snapshot.revision !== undefined) {
      // A conditional write finds a concurrent one by itself: no queue.
      const attempt = (record: Data, revision: string, conflicts: number): void => {
        this.options.call<SetIfResult>(
          'set',
          (cb) => conditional.setIf(sid, record, revision, cb),
          (err, result) => {
            if (err || !result) return callback(err ?? new Error('store setIf gave no result'));
            if (result.status === 'written') {
              remember(result.revision);
              return callback();
            }
            if (result.status === 'gone' || !this.live(sid, result.latest)) return callback();
            if (conflicts >= MAX_CONFLICTS) {
              return callback(new Error(`Session ${hashId(sid)} kept changing under concurrent writes; not saved`));
            }
            attempt(merge(result.latest as Data), result.revision, conflicts + 1);
          },
        );
      };
      attempt(this.record(session, meta), snapshot.revision, 0);
      return;
    }
    this.queue.run(sid, callback, (finish) =>
      this.options.call<Data | null>(
        'get',
        (cb) => this.options.inner.get(sid, cb as Callback<SessionData | null>),
        (err, latest) => {
          if (err) return finish(err);
          if (!this.live(sid, latest)) return finish();
          this.store(sid, merge(latest as Data), remember, finish);
        },
      ),
    );
  }

  /** Removes a session, after any write of it this process has under way. */
  destroy(sid: string, callback: Callback): void {
    this.queue.run(sid, callback, (finish) =>
      this.options.call('destroy', (cb) => this.options.inner.destroy(sid, cb), finish),
    );
  }

  /** Whether the latest stored copy is a session to write into; if not, this request's changes are dropped. */
  private live(sid: string, latest: unknown): boolean {
    if (latest != null && recordProblem(latest, {}) === undefined) return true;
    this.options.logger.debug?.(
      `Session ${hashId(sid)} was destroyed while a request used it; its changes were dropped`,
    );
    return false;
  }

  /** The record to store: the session, with the module's timestamps when a timeout needs them. */
  private record(session: object, meta: RecordMeta): Data {
    return this.options.stamped ? toRecord(session, meta) : (session as Data);
  }

  private store(sid: string, record: Data, remember: Remember, callback: Callback): void {
    this.options.call(
      'set',
      (cb) => this.options.inner.set(sid, record as unknown as SessionData, cb),
      (err) => {
        if (!err) remember();
        callback(err);
      },
    );
  }
}
