import { Logger } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import expressSession from 'express-session';
import { describe } from '../log-format.js';
import { cookieFunctionCheck } from '../production-checks.js';
import type { ResolvedSessionModuleOptions } from '../resolve-options.js';
import { DEFAULT_MAX_PENDING_STORE_CALLS } from '../session.constants.js';
import { endOf, storeUnavailable, writeHttpError } from '../session.errors.js';
import { sessionStateOf } from '../session-state.js';
import { GuardedStore } from '../stores/guarded-store.js';
import type { GuardedStoreOptions } from '../stores/guarded-store.js';
import { controlsOf } from '../controls/session-controls.js';
import { ControlledStore } from '../controls/controlled-store.js';
import { markLoadFailure } from './load-failure.js';
import { sessionContext } from './request-context.js';
import type { ContextSwitch } from './request-context.js';
import { commitBeforeEnd } from './response-commit.js';
import type { CommitSettings } from './response-commit.js';
import { mayRepeat, pickSignedCookie, resignCookie } from './session-cookie.js';
import type { CookieSettings } from './session-cookie.js';
import { secureCookieWatch } from './secure-cookie-warning.js';

const logger = new Logger('SessionModule');

/** The store wrapper and the middleware built from the resolved options (internal). */
export interface SessionRuntime {
  store: GuardedStore;
  /** express-session, then the request context: the default mount, for every route. */
  middleware: RequestHandler;
  /** express-session alone, for routes picked by forRoutes/exclude. */
  sessionOnly: RequestHandler;
  /** express-session on a socket.io handshake: a failure is marked on the request, not answered. */
  handshake: RequestHandler;
  /** The request context alone, mounted for every route beside `sessionOnly`. */
  openContext: RequestHandler;
}

type Step = (req: Request, res: Response, next: NextFunction) => void;

/**
 * Builds express-session over the guarded store, and around it the module's own middleware. Before
 * express-session: in production, a `cookie` function's result is checked on the first request (R5); of several
 * cookies with the session's name, the first validly signed one is used (R4). After it: a session that could not
 * be loaded is answered with the 503 at once (never Express's error handler, never the handler);
 * a cookie signed with an older secret is signed again with the newest; a changed session is saved before
 * the response ends; errors express-session reports after the response are logged, never passed on
 * (Express would destroy the socket). `context` says whether requests run inside SessionService's context.
 */
export function createSessionRuntime(options: ResolvedSessionModuleOptions, context: ContextSwitch): SessionRuntime {
  const settings: GuardedStoreOptions = {
    retries: options.retries,
    retriesStrategy: options.retriesStrategy,
    timeout: options.storeTimeout,
    maxPending: options.maxPendingStoreCalls ?? DEFAULT_MAX_PENDING_STORE_CALLS,
    touchAfter: options.touchAfter,
    idleTimeout: options.idleTimeout,
    absoluteTimeout: options.absoluteTimeout,
  };
  const controls = controlsOf(options);
  const store = controls.index
    ? new ControlledStore(options.session.store, settings, controls)
    : new GuardedStore(options.session.store, settings);
  controls.store = store;
  const session = expressSession({ ...options.session, store });
  const secret = options.session.secret;
  const cookie: CookieSettings = {
    name: options.session.name ?? 'connect.sid',
    secrets: Array.isArray(secret) ? secret : [secret],
  };
  const commit: CommitSettings = { store, plainEnd: options.session.resave !== true };
  const checkCookie = cookieFunctionCheck(options.session);
  const watchSecure = secureCookieWatch(options.session);

  const openContext: Step = (req, _res, next) => {
    if (context.enabled) sessionContext.run(req, next);
    else next();
  };

  /** `andThen` undefined: a socket.io handshake, which has no response of its own to answer or commit. */
  const load = (req: Request, res: Response, next: NextFunction, andThen?: Step): void => {
    // res.end before express-session wraps it: once the module has saved or touched the session itself,
    // express-session's end has nothing left to do but hash the session twice more.
    const rawEnd = endOf(res);
    let continued = false;
    session(req, res, (err?: unknown) => {
      if (continued) {
        if (err) logger.error(`Session could not be written after the response: ${describe(err)}`);
        return;
      }
      continued = true;
      if (err) {
        // R10, R13: answered here, before any guard or handler runs; never Express's error handler.
        markLoadFailure(req, err);
        logger.error(`Session could not be loaded: ${describe(err)}`);
        if (andThen) writeHttpError(res, storeUnavailable(err));
        else next();
        return;
      }
      if (!andThen) return next();
      if (req.session) {
        if (cookie.secrets.length > 1) resignCookie(req, res, cookie);
        const loadedId = sessionStateOf(req.session)?.snapshot.stored ? req.sessionID : undefined;
        commitBeforeEnd(req, res, rawEnd, loadedId, commit);
        watchSecure?.(req, res, loadedId);
      }
      andThen(req, res, next);
    });
  };

  const withSession =
    (andThen: Step): RequestHandler =>
    (req, res, next) => {
      const refusal = checkCookie?.(req);
      if (refusal) return void writeHttpError(res, refusal);
      const header = req.headers.cookie;
      if (header && mayRepeat(header, cookie.name)) pickSignedCookie(req, header, cookie);
      load(req, res, next, andThen);
    };

  return {
    store,
    middleware: withSession(openContext),
    sessionOnly: withSession((_req, _res, next) => next()),
    handshake: (req, res, next) => load(req, res, next),
    openContext,
  };
}
