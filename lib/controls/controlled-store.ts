import type { SessionData, Store } from 'express-session';
import { sessionStateOf } from '../session-state.js';
import { GuardedStore } from '../stores/guarded-store.js';
import type { GuardedStoreOptions } from '../stores/guarded-store.js';
import type { Callback } from '../stores/store-call.js';
import type { SessionControls } from './session-controls.js';

type Data = Record<string, unknown>;

/**
 * The guarded store of a store with a per-user index: a write that logs a session in indexes it (under the
 * limit), a write or touch of an indexed session records the use beside it (no extra round trip in sequence),
 * and a logged-in session found expired leaves its user's index (internal).
 */
export class ControlledStore extends GuardedStore {
  constructor(
    inner: Store,
    options: GuardedStoreOptions,
    private readonly controls: SessionControls,
  ) {
    super(inner, { ...options, indexed: true });
  }

  override write(sid: string, session: SessionData, values: Map<string, string>, callback?: Callback): void {
    this.controls.save(
      session,
      values,
      (done) => super.write(sid, session, values, (err) => done(err, !err)),
      (err) => callback?.(err),
    );
  }

  override touch(sid: string, session: SessionData, callback?: Callback): void {
    const state = sessionStateOf(session);
    // Only a touch that reaches the store counts: one throttled by touchAfter, or made redundant by this
    // request's write, records nothing either.
    const skipped = this.fresh?.has(sid) || (state?.snapshot.sid === sid && state.snapshot.written);
    const seen = skipped ? undefined : this.controls.renew(session);
    if (!seen) return super.touch(sid, session, callback);
    super.touch(sid, session, (err) => void seen.then(() => callback?.(err)));
  }

  /**
   * A logged-in session replaced by a new one (a login over a login, Passport's regeneration) leaves its user's
   * index before the new session can be indexed, so it never counts against the limit.
   */
  override regenerate(req: Parameters<Store['regenerate']>[0], callback: Callback): void {
    const old: unknown = req.session;
    super.regenerate(req, (err) => {
      if (err) return callback(err);
      void this.controls.ended(old as object, 'loggedOut').then(() => callback());
    });
  }

  protected override usable(sid: string, record: Data | null | undefined, problem?: string): Data | null {
    const usable = super.usable(sid, record, problem);
    if (usable === null && record != null) void this.controls.ended(record, 'expired');
    return usable;
  }
}
