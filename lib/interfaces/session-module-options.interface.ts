import type { RequestMethod, Type } from '@nestjs/common';
import type { Request } from 'express';
import type { SessionOptions, Session, SessionData } from 'express-session';
import type { CsrfOptions } from './csrf-options.interface.js';

/** A path and an HTTP method, as Nest's middleware consumer takes them. */
export interface SessionRouteInfo {
  path: string;
  method: RequestMethod;
}

/** A route given to `forRoutes` or `exclude`: a path, a `{ path, method }` object, or a controller class. */
export type SessionRoute = string | SessionRouteInfo | Type<unknown>;

/** The request's session as handlers see it. */
export type RequestSession = Session & Partial<SessionData>;

/** Options of the embedded in-memory store, used when `session.store` is not given. */
export interface EmbeddedStoreOptions {
  /**
   * Most sessions held at once; the least recently used is evicted past it (anonymous ones first, see `maxBytes`).
   * @default 10000
   */
  maxSessions?: number;
  /**
   * Largest total size of the sessions held, in bytes of their JSON (a byte per character of ASCII text); the
   * least recently used are evicted past it. Past either bound anonymous sessions go first, and a logged-in one
   * (holding `userId` or Passport's `passport.user`) only once no anonymous session is left. A write of a single
   * session larger than this fails (a 503).
   * @default 67108864 (64 MiB)
   */
  maxBytes?: number;
  /**
   * Lifetime in milliseconds of a session whose cookie has neither `maxAge` nor `expires`.
   * @default 86400000 (one day)
   */
  defaultTtl?: number;
  /**
   * Milliseconds between sweeps that remove expired sessions from memory (an expired session is never read
   * in between: it only takes room until the next sweep). The timer never keeps the process alive.
   * @default 60000
   */
  sweepInterval?: number;
  /**
   * Set to `true` to say that a per-process store is intended in production, which silences the warning.
   * @default false
   */
  allowInProduction?: boolean;
}

/** Options of {@link SessionModule}. */
export interface SessionModuleOptions {
  /**
   * express-session's own options, passed through. The module merges `resave: false`,
   * `saveUninitialized: false`, `cookie.httpOnly: true` and `cookie.sameSite: 'lax'` under them;
   * a value given here always wins.
   * @see https://github.com/expressjs/session#options
   */
  session: SessionOptions;
  /**
   * Routes that get a session. Giving this (or `exclude`) mounts the middleware through Nest's route
   * matching; without both, it is mounted once for every route at the adapter, which costs nothing extra.
   * @default every route, including `/` and the global-prefix root
   */
  forRoutes?: SessionRoute[];
  /**
   * Routes that get no session (for example a health check that must answer while the store is down).
   * @default none
   */
  exclude?: (string | SessionRouteInfo)[];
  /**
   * What `AuthenticatedGuard` and `SessionService.isAuthenticated()` check.
   * @default `session.userId` is set, or Passport's `request.isAuthenticated()` returns true
   */
  isAuthenticated?: (session: RequestSession, request: Request) => boolean | Promise<boolean>;
  /**
   * How many times a failed store read is retried before the request is refused with a 503.
   * @default 0
   */
  retries?: number;
  /**
   * Delay in milliseconds before retry number `attempt` (1, 2, ...).
   * @default () => 0
   */
  retriesStrategy?: (attempt: number) => number;
  /**
   * The longest a store call may take, in milliseconds, before the request gets a 503.
   * @default 5000
   */
  storeTimeout?: number;
  /**
   * The most store calls that may wait for the store at once, those past `storeTimeout` included (a hung store
   * still holds them). Beyond it, requests get the 503 at once without calling the store, so a hung store
   * cannot make memory grow with traffic, nor get a flood of stale commands when it wakes up.
   * @default 1000
   */
  maxPendingStoreCalls?: number;
  /**
   * An unchanged session is touched in the store (its expiry extended) at most once per this many
   * milliseconds by each app instance; a save counts as a touch. Must be shorter than `cookie.maxAge`.
   * Saves one store write per read-only request within the window.
   * @default 0 (every request, as express-session does)
   */
  touchAfter?: number;
  /**
   * A session unused for this many milliseconds is destroyed and treated as anonymous.
   * @default none
   */
  idleTimeout?: number;
  /**
   * A session older than this many milliseconds is destroyed and treated as anonymous, however active.
   * @default none
   */
  absoluteTimeout?: number;
  /** Options of the embedded store used when `session.store` is not given. */
  embeddedStore?: EmbeddedStoreOptions;
  /** Options of `CsrfGuard` and the CSRF token: trusted origins, the header and the body field that carry it. */
  csrf?: CsrfOptions;
  /**
   * Whose session it is: the user id a logged-in session is listed, limited and revoked under (`SessionRegistry`).
   * Only stores with a per-user index take it: the embedded store, redisStore(), postgresStore(), sqliteStore().
   * @default `session.userId`, else Passport's `session.passport.user` when it is a string or a number
   */
  userIdOf?: (session: RequestSession) => string | number | undefined;
  /**
   * Most sessions one user may have at once; a login past it does what `onSessionLimit` says. Counted
   * atomically in the store, so parallel logins cannot slip past it.
   * @default no limit
   */
  maxSessionsPerUser?: number;
  /**
   * What a login past `maxSessionsPerUser` does: `'evict'` ends the user's least recently used session (never
   * the one logging in); `'refuse'` rejects the login with 403 Forbidden and changes nothing.
   * @default 'evict'
   */
  onSessionLimit?: 'evict' | 'refuse';
}
