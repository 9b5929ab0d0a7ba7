import { ForbiddenException, Logger } from '@nestjs/common';
import type { Request } from 'express';
import type { SessionData, Store } from 'express-session';
import { describe } from '../log-format.js';
import type { SessionModuleOptions } from '../interfaces/index.js';
import { sessionStateOf } from '../session-state.js';
import { cookieExpiry } from '../stores/changed-key-writes.js';
import { HANDLE_KEY, handleOf } from '../stores/session-record.js';
import { entryKeptUntil, freshen } from './index-upkeep.js';
import { readRecord } from '../stores/store-call.js';
import type { Callback } from '../stores/store-call.js';
import { indexOf, newHandle, userKeyOf, userKeyOfHandle } from './session-index.js';
import type { IndexEntry, SessionIndex } from './session-index.js';
import { SessionEvents } from './session-events.js';

type Data = Record<string, unknown>;
type UserId = string | number;

/** The default owner of a session: `session.userId`, else Passport's `session.passport.user`. */
export function defaultUserIdOf(session: Data): UserId | undefined {
  const own = session.userId;
  if (typeof own === 'string' || typeof own === 'number') return own;
  const user = (session.passport as { user?: unknown } | undefined)?.user;
  return typeof user === 'string' || typeof user === 'number' ? user : undefined;
}

/**
 * What the session controls need from the module, shared by the store wrapper (which indexes logins and
 * records uses as it writes and touches) and SessionRegistry (internal).
 */
export class SessionControls {
  readonly events = new SessionEvents();
  /** The store's per-user index: with one, every login is indexed, whether or not the app uses the registry. */
  readonly index?: SessionIndex;
  /** The guarded store, through which sessions are removed (set when the runtime is built). */
  store?: Store;
  private readonly logger = new Logger('SessionRegistry');
  private readonly userIdOf: (session: Data) => UserId | undefined;

  constructor(private readonly options: SessionModuleOptions & { session: { store: Store } }) {
    this.index = indexOf(options.session.store);
    const given = options.userIdOf as ((session: Data) => unknown) | undefined;
    this.userIdOf = given
      ? (session) => {
          const id = given(session);
          return typeof id === 'string' || typeof id === 'number' ? id : undefined;
        }
      : defaultUserIdOf;
  }

  /** The owner of a session, when it is logged in. */
  ownerOf(session: object | null | undefined): UserId | undefined {
    return session ? this.userIdOf(session as Data) : undefined;
  }

  /**
   * Saves a session through `write`, and indexes it if it has a user but no handle for that user yet (a
   * `logIn`, a Passport login): the handle is written with the record, then the entry is added under the
   * limit. A refused login removes the record it wrote and fails with 403; sessions evicted to make room are
   * removed before this calls back. A session indexed already has its use recorded in the write itself (the
   * module's timestamps in its record), and its index entry renewed beside it when it runs short.
   */
  save(
    session: SessionData,
    values: Map<string, string>,
    write: (cb: Callback<boolean>) => void,
    callback: Callback<boolean>,
  ): void {
    const index = this.index;
    const userId = index ? this.ownerOf(session) : undefined;
    const state = sessionStateOf(session);
    const isNew = state?.snapshot.stored !== true;
    if (!index || userId === undefined) {
      write((err, written) => {
        if (written && isNew) this.events.emit('created');
        callback(err, written);
      });
      return;
    }
    const userKey = userKeyOf(userId);
    const current = handleOf(session);
    if (current !== undefined && userKeyOfHandle(current) === userKey) {
      this.alongside(write, this.renew(session), callback);
      return;
    }
    const handle = newHandle(userKey);
    if (state) state.handle = handle;
    else (session as unknown as Data)[HANDLE_KEY] = handle;
    values.set(HANDLE_KEY, JSON.stringify(handle));
    const now = Date.now();
    const keepUntil = entryKeptUntil(this.options, now, cookieExpiry(session.cookie) ?? null, state?.createdAt ?? now);
    if (state) state.indexedUntil = keepUntil;
    write((err, written) => {
      if (err || !written) return callback(err, written);
      const sid = (session as { id?: string }).id;
      this.login(sid!, session, userId, handle, keepUntil).then(
        () => {
          if (isNew) this.events.emit('created', handle, userId);
          this.events.emit('loggedIn', handle, userId);
          callback(null, true);
        },
        (failure: unknown) => this.destroy(sid!).finally(() => callback(failure)),
      );
    });
  }

  /**
   * Renews an indexed session's entry in its user's index when the entry would otherwise soon outlast what
   * it was kept for: an entry is kept one lifetime beyond the session's expiry, and renewed once half of that
   * margin is used, so a session used on every request renews it about once per half lifetime, beside a write
   * or touch it makes anyway (its last use is in its record, written by that very call). Sets the new expiry in
   * the session's state, for that write to record; resolves when renewed, and never rejects (a failure is
   * logged). Undefined when nothing is due.
   */
  renew(session: object): Promise<void> | undefined {
    const handle = handleOf(session);
    const userId = handle === undefined ? undefined : this.ownerOf(session);
    if (!this.index || handle === undefined || userId === undefined) return undefined;
    const state = sessionStateOf(session);
    const now = Date.now();
    const expiresAt = cookieExpiry((session as { cookie?: unknown }).cookie) ?? null;
    const until = entryKeptUntil(this.options, now, expiresAt, state?.createdAt);
    const held = state?.indexedUntil;
    if (held !== undefined && until - held <= (until - now) / 4) return undefined;
    if (state) state.indexedUntil = until;
    return this.index
      .seen(userKeyOf(userId), handle, now, expiresAt, until)
      .catch((err: unknown) => this.logger.warn(`Could not renew a session's index entry: ${describe(err)}`));
  }

  /** A logged-in session ends (logout, destroy, found expired): its entry goes, and the event is emitted. */
  ended(session: object | null | undefined, type: 'loggedOut' | 'expired'): Promise<void> {
    const handle = handleOf(session);
    const userId = this.ownerOf(session);
    if (!this.index || handle === undefined || userId === undefined) return Promise.resolve();
    return this.index.remove(userKeyOf(userId), { handles: [handle] }).then(
      () => this.events.emit(type, handle, userId),
      (err: unknown) => this.logger.warn(`Could not remove a session from its user's index: ${describe(err)}`),
    );
  }

  /** Ends every session of the user but `except`; resolves with how many ended. */
  async revokeAll(userId: UserId, except?: string): Promise<number> {
    if (!this.index) return 0;
    const key = userKeyOf(userId);
    return this.end(
      key,
      (await this.index.list(key)).filter((entry) => entry.handle !== except),
    );
  }

  /**
   * Ends the sessions of `entries`: each record is removed first, then the entries, so a session whose removal
   * failed stays listed (and live), never the other way round. A request of it in flight cannot bring it back:
   * writes apply only to a record that still exists.
   */
  async end(key: string, entries: IndexEntry[]): Promise<number> {
    if (!this.index || entries.length === 0) return 0;
    await Promise.all(entries.map((entry) => this.destroy(entry.sid)));
    await this.index.remove(key, { handles: entries.map((entry) => entry.handle) });
    for (const entry of entries) this.events.emit('revoked', entry.handle, entry.userId);
    return entries.length;
  }

  /** Removes a session's record through the guarded store. */
  destroy(sid: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.store!.destroy(sid, (err) =>
        err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
      ),
    );
  }

  /** Adds the new login's entry under the limit, and removes the sessions it evicts. */
  private async login(
    sid: string,
    session: SessionData,
    userId: UserId,
    handle: string,
    keepUntil: number,
  ): Promise<void> {
    const now = Date.now();
    const expiresAt = cookieExpiry(session.cookie) ?? null;
    const limit = this.options.maxSessionsPerUser;
    if (limit !== undefined) await freshen(this.index!, (sid) => this.read(sid), userKeyOf(userId), handle, limit);
    const req = (session as { req?: Request }).req;
    const entry: IndexEntry = {
      handle,
      sid,
      userId,
      createdAt: sessionStateOf(session)?.createdAt ?? now,
      lastSeenAt: now,
      expiresAt,
      keepUntil,
    };
    const agent = req?.get?.('user-agent');
    if (agent) entry.userAgent = agent.slice(0, 512);
    if (req?.ip) entry.ip = req.ip;
    const outcome = await this.index!.add(
      entry,
      this.options.maxSessionsPerUser,
      this.options.onSessionLimit ?? 'evict',
    );
    if (outcome.refused) {
      throw new ForbiddenException(
        `This account already has ${this.options.maxSessionsPerUser} sessions, the most allowed: sign out of one first.`,
      );
    }
    await Promise.all(outcome.evicted.map((gone) => this.destroy(gone.sid)));
    for (const gone of outcome.evicted) this.events.emit('evicted', gone.handle, gone.userId);
  }

  /** A session's stored record through the guarded store (null when it is gone or has expired). */
  read(sid: string): Promise<Data | null> {
    return readRecord<Data>(this.store!, sid);
  }

  /** Runs a write and a promise side by side, and calls back with the write's outcome once both are done. */
  private alongside(
    write: (cb: Callback<boolean>) => void,
    beside: Promise<void> | undefined,
    callback: Callback<boolean>,
  ): void {
    if (!beside) return write(callback);
    write((err, written) => void beside.then(() => callback(err, written)));
  }
}

const controlsByOptions = new WeakMap<object, SessionControls>();

/** The controls of one module instance, keyed by its resolved options (made on first use). */
export function controlsOf(options: SessionModuleOptions & { session: { store: Store } }): SessionControls {
  let controls = controlsByOptions.get(options);
  if (!controls) {
    controls = new SessionControls(options);
    controlsByOptions.set(options, controls);
  }
  return controls;
}
