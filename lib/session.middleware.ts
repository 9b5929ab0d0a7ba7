import { Logger } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import expressSession from 'express-session';
import type { ResolvedSessionModuleOptions } from './session.options.js';
import { registerContextSwitch, sessionContext } from './session-context.js';
import type { ContextSwitch } from './session-context.js';
import { initSessionState } from './session-request.js';
import { GuardedStore, describe } from './stores/guarded-store.js';

const logger = new Logger('SessionModule');

/** The store wrapper and the middleware built from the resolved options (internal). */
export interface SessionRuntime {
  store: GuardedStore;
  middleware: RequestHandler;
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
  });
  const session = expressSession({ ...options.session, store });
  // Off until SessionModule finds, at startup, something that injects SessionService.
  const context: ContextSwitch = { enabled: false };
  registerContextSwitch(options, context);

  const middleware = function nestExpressSession(req: Request, res: Response, next: NextFunction): void {
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
      if (context.enabled) sessionContext.run(req, next);
      else next();
    });
  };
  return { store, middleware, context };
}
