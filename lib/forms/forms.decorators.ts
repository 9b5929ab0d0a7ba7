import { createParamDecorator } from '@nestjs/common';
import type { ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { Session } from 'express-session';
import { assertSessionLoaded } from '../middleware/load-failure.js';
import { requestOf } from '../middleware/request-context.js';
import { issueCsrfToken } from './csrf-token.js';
import { takeFlashFrom } from './flash.js';

/** The request's session, a fresh one when it has none (logged out in this request), for what must be stored. */
export function sessionToWrite(req: Request): Session {
  if (!req.session) {
    const store = req.sessionStore as { generate?: (req: Request) => void } | undefined;
    if (!store?.generate) throw new Error('This route has no session (excluded by forRoutes/exclude).');
    store.generate(req);
  }
  return req.session;
}

const csrfTokenParam = createParamDecorator((_data: unknown, context: ExecutionContext) => {
  const req = requestOf(context);
  assertSessionLoaded(req);
  return issueCsrfToken(sessionToWrite(req));
});

const flashParam = createParamDecorator((type: string | undefined, context: ExecutionContext) => {
  const req = requestOf(context);
  assertSessionLoaded(req);
  return takeFlashFrom(req.session ?? undefined, type);
});

/** Injects a CSRF token of the request's session (a new mask each time; the session's secret made on first use). */
export const CsrfToken = (): ParameterDecorator => csrfTokenParam();

/**
 * Injects the flash messages and removes them from the session: `@Flash()` gives every type as
 * `Record<string, unknown[]>`, `@Flash('info')` that type's messages as an array. An empty flash never creates
 * a session.
 */
export const Flash = (type?: string): ParameterDecorator => flashParam(type);
