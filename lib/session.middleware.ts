import { Logger } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import expressSession from 'express-session';
import type { ResolvedSessionModuleOptions } from './session.options.js';
import { sessionContext } from './session-context.js';
import { initSessionState } from './session-request.js';
import { GuardedStore, describe } from './stores/guarded-store.js';

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

/**
 * Builds express-session over the guarded store, and around it the module's own middleware: a store
 * failure marks the request (the availability guard answers it with a 503) instead of reaching
 * Express's error handler, and errors express-session reports after the response are logged, never
 * passed on (Express would destroy the socket).
 */
export function createSessionRuntime(options: ResolvedSessionModuleOptions): SessionRuntime {
  const store = new GuardedStore(options.session.store, {
    retries: options.retries,
    retriesStrategy: options.retriesStrategy,
    timeout: options.storeTimeout,
    touchAfter: options.touchAfter,
  });
  const session = expressSession({ ...options.session, store });
  const context: ContextSwitch = { enabled: true };

  const openContext = (req: Request, _res: Response, next: NextFunction): void => {
    if (context.enabled) sessionContext.run(req, next);
    else next();
  };
  const withSession = (andThen: (req: Request, res: Response, next: NextFunction) => void): RequestHandler =>
    function nestExpressSession(req: Request, res: Response, next: NextFunction): void {
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
        }
        andThen(req, res, next);
      });
    };
  const middleware = withSession(openContext);
  const sessionOnly = withSession((_req, _res, next) => next());
  return { store, middleware, sessionOnly, openContext, context };
}
