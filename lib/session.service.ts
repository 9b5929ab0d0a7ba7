import { HttpException, Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { SessionData } from 'express-session';
import { SESSION_CONTEXT_SWITCH, SESSION_MODULE_OPTIONS } from './session.constants.js';
import { storeUnavailable } from './session.errors.js';
import type { RequestSession } from './interfaces/index.js';
import type { ResolvedSessionModuleOptions } from './resolve-options.js';
import { assertSessionLoaded } from './middleware/load-failure.js';
import { servedBySession, sessionContext } from './middleware/request-context.js';
import type { ContextSwitch } from './middleware/request-context.js';
import { issueCsrfToken } from './forms/csrf-token.js';
import { addFlash, takeFlashFrom } from './forms/flash.js';
import { sessionToWrite } from './forms/forms.decorators.js';
import { loggedInAtOf, markLoggedIn } from './forms/recent-login.js';
import { controlsOf } from './controls/session-controls.js';
import { handleOf } from './stores/session-record.js';
import { userKeyOfHandle } from './controls/session-index.js';

/** Keys of the session data, as `@Session('key')` and `SessionService.get()` accept them. */
export type SessionKey = keyof SessionData;

/** Options of {@link SessionService.regenerate}. */
export interface RegenerateOptions {
  /** Keys carried over from the old session into the new one; everything else is dropped. */
  keep?: SessionKey[];
}

const NO_CONTEXT =
  'SessionService was reached without a request context. SessionModule opens that context only when, at startup, ' +
  'a provider, controller, guard, interceptor, pipe, filter or middleware declares SessionService (or a subclass) ' +
  'as a constructor or @Inject() property dependency, and none does in this app: inject it that way instead of ' +
  'getting it through ModuleRef, app.get() or a module loaded lazily after startup.';

const OUTSIDE_REQUEST =
  'SessionService was used outside an HTTP request: call it from a controller, guard, interceptor or a provider ' +
  'they call while handling a request (not from a constructor, onModuleInit or a timer).';

/**
 * The current request's session for singleton providers: promise-based `regenerate`, `save`, `reload`,
 * `destroy`, and `logIn`/`logOut` that are safe against session fixation. It keeps the request, never the
 * session object, because `regenerate` and `destroy` replace `req.session`.
 */
@Injectable()
export class SessionService {
  constructor(
    @Inject(SESSION_MODULE_OPTIONS) private readonly options: ResolvedSessionModuleOptions,
    @Inject(SESSION_CONTEXT_SWITCH) private readonly context: ContextSwitch,
  ) {}

  /** The current session object. */
  get session(): RequestSession {
    const req = this.request();
    if (!req.session)
      throw new Error('The session of this request was destroyed (logOut/destroy); there is none to use.');
    return req.session;
  }

  /** The current session id. */
  get id(): string {
    return this.session.id;
  }

  /** One value of the session. */
  get<K extends SessionKey>(key: K): SessionData[K] | undefined {
    return (this.session as Partial<SessionData>)[key];
  }

  /** Sets one value of the session; it is saved at the end of the request (or by `save()`). */
  set<K extends SessionKey>(key: K, value: SessionData[K]): void {
    (this.session as Partial<SessionData>)[key] = value;
  }

  /**
   * Replaces the session by a new one with a new id; the old id can no longer be used.
   * Only the keys named in `keep` are carried over. Rejects (503) if the old session could not be removed,
   * in which case the request keeps its old session.
   */
  async regenerate(options: RegenerateOptions = {}): Promise<void> {
    const req = this.request();
    const old = this.session;
    const kept: Partial<SessionData> = {};
    for (const key of options.keep ?? []) {
      if (key in old) (kept as Record<string, unknown>)[key] = (old as Partial<SessionData>)[key];
    }
    await fromCallback((cb) => old.regenerate(cb));
    Object.assign(req.session, kept);
  }

  /** Writes the session to the store now (for example before a redirect). */
  async save(): Promise<void> {
    const session = this.session;
    await fromCallback((cb) => session.save(cb));
  }

  /** Reads the session again from the store, dropping unsaved changes. */
  async reload(): Promise<void> {
    const session = this.session;
    await fromCallback((cb) => session.reload(cb));
  }

  /** Removes the session from the store and expires its cookie (same name, Path and Domain). */
  async destroy(): Promise<void> {
    const req = this.request();
    const session = this.session;
    await fromCallback((cb) => req.sessionStore.destroy(session.id, cb));
    await controlsOf(this.options).ended(session, 'loggedOut');
    const cookie = session.cookie;
    req.session = undefined as never;
    const res = (req as Request & { res?: Response }).res;
    res?.clearCookie(this.options.session.name ?? 'connect.sid', {
      path: cookie.path ?? '/',
      domain: cookie.domain,
      sameSite: cookie.sameSite,
      secure: cookie.secure === true,
      httpOnly: cookie.httpOnly,
      partitioned: (cookie as { partitioned?: boolean }).partitioned,
    });
  }

  /**
   * Logs the user in: a new session (so an id planted before login is worthless), `userId` and `data`
   * set, saved before this resolves. On a store failure it rejects (503) and leaves no session
   * authenticated under any id. `keep` carries keys of the anonymous session over.
   */
  async logIn(
    userId: string | number,
    data: Partial<SessionData> = {},
    options: RegenerateOptions = {},
  ): Promise<void> {
    const req = this.request();
    await this.regenerate(options);
    Object.assign(req.session, data, { userId });
    markLoggedIn(req.session);
    try {
      await this.save();
    } catch (err) {
      // Fail closed: nothing may save this half-made login at the end of the response.
      const sid = req.session?.id;
      req.session = undefined as never;
      if (sid) req.sessionStore.destroy(sid, () => undefined);
      throw err;
    }
  }

  /** Logs the user out: the session is removed from the store and its cookie expired. */
  async logOut(): Promise<void> {
    await this.destroy();
  }

  /** The current logged-in session's opaque handle (what `SessionRegistry` lists and revokes); undefined when anonymous. */
  get handle(): string | undefined {
    const session = this.request().session;
    const handle = handleOf(session);
    const userId = controlsOf(this.options).ownerOf(session);
    return handle !== undefined && userId !== undefined && userKeyOfHandle(handle) === String(userId)
      ? handle
      : undefined;
  }

  /**
   * Ends every session of the current user: this one too (logged out, cookie expired) unless `keepCurrent`.
   * Resolves with how many sessions ended. Needs a store with a per-user index.
   */
  async logOutEverywhere(options: { keepCurrent?: boolean } = {}): Promise<number> {
    const controls = controlsOf(this.options);
    const userId = controls.ownerOf(this.request().session);
    if (userId === undefined) return 0;
    const ended = await controls.revokeAll(userId, this.handle);
    if (options.keepCurrent) return ended;
    await this.logOut();
    return ended + 1;
  }

  /** Whether the current session is logged in, by the module's `isAuthenticated` option. */
  isAuthenticated(): boolean | Promise<boolean> {
    const req = this.request();
    return this.options.isAuthenticated(req.session, req);
  }

  /** A CSRF token of this session for a form or a single-page app; each call masks the session's secret anew. */
  csrfToken(): string {
    return issueCsrfToken(sessionToWrite(this.request()));
  }

  /** Adds a flash message of a type, read once by `takeFlash` or `@Flash()` (after a redirect, say). */
  flash(type: string, message: unknown): void {
    addFlash(sessionToWrite(this.request()), type, message);
  }

  /** Takes one type's flash messages (`takeFlash('info')`) or all of them (`takeFlash()`) out of the session. */
  takeFlash(type: string): unknown[];
  takeFlash(): Record<string, unknown[]>;
  takeFlash(type?: string): unknown[] | Record<string, unknown[]> {
    return takeFlashFrom(this.request().session ?? undefined, type);
  }

  /** When this session logged in (or last called `confirmLogin()`); undefined if it never did. */
  get loggedInAt(): Date | undefined {
    return loggedInAtOf(this.request().session ?? undefined);
  }

  /** Makes the login recent again, for `@RequireRecentLogin(ms)`, after the app checked the password again. */
  confirmLogin(): void {
    markLoggedIn(this.session);
  }

  private request(): Request {
    const req = sessionContext.getStore();
    if (!req) throw new Error(this.context.enabled ? OUTSIDE_REQUEST : NO_CONTEXT);
    if (!servedBySession(req)) {
      throw new Error(
        `This route (${req.method} ${req.path}) has no session: it is excluded by the SessionModule's forRoutes/exclude options.`,
      );
    }
    assertSessionLoaded(req);
    return req;
  }
}

/** Runs an express-session callback method as a promise; a store error becomes the module's 503. */
function fromCallback(run: (cb: (err?: unknown) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    // An HTTP error (a login refused by the session limit: 403) is the answer as it is; any other, the 503.
    run((err) => (err ? reject(err instanceof HttpException ? err : storeUnavailable(err)) : resolve()));
  });
}
