import { createParamDecorator } from '@nestjs/common';
import type { ExecutionContext } from '@nestjs/common';
import type { SessionData } from 'express-session';
import { assertSessionLoaded } from './middleware/load-failure.js';
import { requestOf } from './middleware/request-context.js';

const sessionParam = createParamDecorator((key: string | undefined, context: ExecutionContext) => {
  const req = requestOf(context);
  assertSessionLoaded(req);
  const session = req.session as unknown as Record<string, unknown> | undefined;
  return key === undefined ? session : session?.[key];
});

/**
 * Injects the request's session (`@Session()`), or one of its values (`@Session('views')`, the key checked
 * against `SessionData`). On a route excluded from the session it gives `undefined`. Works in controllers,
 * GraphQL resolvers (through the context's `req`) and socket.io gateways (the handshake's session, with
 * `SessionIoAdapter` from `nest-express-session/socket.io`).
 * Import it from `nest-express-session`, not `@nestjs/common` (whose `Session` takes no key).
 */
export const Session: {
  (): ParameterDecorator;
  <K extends keyof SessionData>(key: K): ParameterDecorator;
} = (key?: keyof SessionData): ParameterDecorator => sessionParam(key);
