import { Injectable } from '@nestjs/common';
import type { CanActivate, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { storeUnavailable } from './session.errors.js';
import { sessionState } from './session-request.js';

/** Throws the 503 when the session middleware could not load this request's session. */
export function assertSessionLoaded(req: Request): void {
  const failure = sessionState(req)?.failure;
  if (failure !== undefined) throw storeUnavailable(failure);
}

/**
 * Registered app-wide by SessionModule: a request whose session could not be loaded gets the 503
 * before any other guard or the handler runs, over HTTP and in GraphQL resolvers (internal).
 * Sockets never get here without their session: the socket.io adapter refuses the handshake instead.
 */
@Injectable()
export class SessionAvailabilityGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const type = context.getType<string>();
    if (type === 'http') {
      assertSessionLoaded(context.switchToHttp().getRequest<Request>());
    } else if (type === 'graphql') {
      const req = (context.getArgByIndex(2) as { req?: Request } | undefined)?.req;
      if (req) assertSessionLoaded(req);
    }
    return true;
  }
}
