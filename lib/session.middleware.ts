import { Logger } from '@nestjs/common';
import type { CipherKey } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import expressSession from 'express-session';
import type { ResolvedSessionModuleOptions } from './session.options.js';
import { sessionContext } from './session-context.js';
import { cookieValues, idOf, mayRepeat, signId, signerOf } from './session-cookie.js';
import { initSessionState, sessionState } from './session-request.js';
import type { SessionRequestState } from './session-request.js';
import { GuardedStore, describe } from './stores/guarded-store.js';
import { serialise } from './stores/session-record.js';

const logger = new Logger('SessionModule');

/** Whether requests run inside the AsyncLocalStorage context that SessionService reads. */
export interface ContextSwitch {
  enabled: boolean;
}

/** The store wrapper and the middleware built from the resolved options (internal). */
export interface SessionRuntime {
  store: GuardedStore;
  /** express-session, then the request context: the default mount, for every route. */
  middleware: RequestHandler;
  /** express-session alone, for routes picked by forRoutes/exclude. */
  sessionOnly: RequestHandler;
  /** The request context alone, mounted for every route beside `sessionOnly`. */
  openContext: RequestHandler;
  context: ContextSwitch;
}

type Step = (req: Request, res: Response, next: NextFunction) => void;

/**
 * Builds express-session over the guarded store, and around it the module's own middleware. Before
 * express-session: of two cookies with the session's name, the live one is used. After it: a store
 * failure marks the request (the availability guard answers it with a 503) instead of reaching Express's
 * error handler; a cookie signed with an older secret is signed again with the newest; a session that
 * cannot be serialised is dropped before express-session would choke on it; errors express-session
 * reports after the response are logged, never passed on (Express would destroy the socket).
 */
export function createSessionRuntime(options: ResolvedSessionModuleOptions): SessionRuntime {
  const store = new GuardedStore(options.session.store, {
    retries: options.retries,
    retriesStrategy: options.retriesStrategy,
    timeout: options.storeTimeout,
    touchAfter: options.touchAfter,
    idleTimeout: options.idleTimeout,
    absoluteTimeout: options.absoluteTimeout,
  });
  const session = expressSession({ ...options.session, store });
  const generate = store.generate;
  store.generate = (req) => {
    generate(req);
    const state = sessionState(req as unknown as Request);
    if (state) {
      state.snapshot = { sid: req.sessionID, values: new Map(), stored: false, written: false };
      state.createdAt = undefined;
    }
  };
  const name = options.session.name ?? 'connect.sid';
  const secret = options.session.secret;
  const secrets: CipherKey[] = Array.isArray(secret) ? secret : [secret];
  const context: ContextSwitch = { enabled: true };

  const openContext: Step = (req, _res, next) => {
    if (context.enabled) sessionContext.run(req, next);
    else next();
  };

  const load = (req: Request, res: Response, next: NextFunction, andThen: Step): void => {
    const state = initSessionState(req);
    let continued = false;
    session(req, res, (err?: unknown) => {
      if (continued) {
        if (err) logger.error(`Session could not be written after the response: ${describe(err)}`);
        return;
      }
      continued = true;
      if (err) {
        state.failure = err;
        logger.error(`Session could not be loaded: ${describe(err)}`);
      } else if (req.session) {
        if (secrets.length > 1) resign(req, res);
        guardEnd(req, res, state);
      }
      andThen(req, res, next);
    });
  };

  /** R3: a cookie still signed with an older secret gets the newest signature in this response. */
  const resign = (req: Request, res: Response): void => {
    const raw = req.headers.cookie ? cookieValues(req.headers.cookie, name)[0] : undefined;
    if (!raw || signerOf(raw, secrets) <= 0 || idOf(raw) !== req.sessionID) return;
    const cookie = req.session.cookie as typeof req.session.cookie & {
      priority?: 'low' | 'medium' | 'high';
      partitioned?: boolean;
    };
    res.cookie(name, signId(req.sessionID, secrets[0]), {
      expires: cookie.expires ?? undefined,
      path: cookie.path,
      domain: cookie.domain,
      secure: cookie.secure === true,
      httpOnly: cookie.httpOnly,
      sameSite: cookie.sameSite,
      priority: cookie.priority,
      partitioned: cookie.partitioned,
    });
  };

  /** R4: with several cookies of the session's name, the first one whose session exists is used. */
  const pickLive = (req: Request, header: string, then: () => void): void => {
    const all = cookieValues(header, name);
    const candidates = all.filter((raw) => signerOf(raw, secrets) >= 0);
    if (candidates.length === 0) return then();
    const tryAt = (i: number): void => {
      if (i >= candidates.length) return then();
      store.get(idOf(candidates[i]), (err, found) => {
        if (err || !found) return tryAt(i + 1);
        if (candidates[i] !== all[0]) req.headers.cookie = `${name}=${encodeURIComponent(candidates[i])}; ${header}`;
        then();
      });
    };
    tryAt(0);
  };

  const withSession =
    (andThen: Step): RequestHandler =>
    (req, res, next) => {
      const header = req.headers.cookie;
      if (header && mayRepeat(header, name)) pickLive(req, header, () => load(req, res, next, andThen));
      else load(req, res, next, andThen);
    };

  return {
    store,
    middleware: withSession(openContext),
    sessionOnly: withSession((_req, _res, next) => next()),
    openContext,
    context,
  };
}

/**
 * R15, for responses the commit interceptor did not see (`@Res()` handlers, errors, unmatched routes):
 * a session that cannot be serialised would make express-session's `res.end` throw and the socket hang,
 * so it is dropped (and logged) first.
 */
function guardEnd(req: Request, res: Response, state: SessionRequestState): void {
  const end = res.end;
  res.end = function (this: Response, ...args: Parameters<Response['end']>) {
    if (!state.committed && req.session) {
      try {
        serialise(req.session);
      } catch (err) {
        logger.error(
          `The session holds a value that cannot be serialised; this request's changes were dropped: ${describe(err)}`,
        );
        req.session = undefined as never;
      }
    }
    return end.apply(this, args);
  } as Response['end'];
}
