import { AsyncLocalStorage } from 'node:async_hooks';
import type { ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

/**
 * The AsyncLocalStorage that tells singleton services which request they serve. One instance per process,
 * shared through a global symbol so the ESM and CommonJS builds of this package see the same context.
 * Its first `run()` turns on async hooks for the whole process (on Node 20, promise hooks that every
 * request pays for), so the module opens it only in apps that inject SessionService.
 */
const key = Symbol.for('nest-express-session:context');
const holder = globalThis as { [key]?: AsyncLocalStorage<Request> };
export const sessionContext: AsyncLocalStorage<Request> = (holder[key] ??= new AsyncLocalStorage<Request>());

/**
 * Whether one SessionModule's requests run inside the context that SessionService reads (internal). Off
 * until the module finds, at startup, something that injects SessionService; provided as
 * `SESSION_CONTEXT_SWITCH` to the middleware that opens the context and to SessionService.
 */
export interface ContextSwitch {
  enabled: boolean;
}

/** Whether the session middleware handled this request (false on a route excluded from the session). */
export function servedBySession(req: Request): boolean {
  return req.sessionStore !== undefined;
}

const GRAPHQL_NO_REQUEST =
  "nest-express-session: this GraphQL context carries no 'req'. Give the GraphQL module a context that keeps it: " +
  'GraphQLModule.forRoot({ ..., context: ({ req, res }) => ({ req, res }) }).';
const WS_NO_REQUEST =
  'nest-express-session: this WebSocket client has no handshake request; sessions in gateways need socket.io ' +
  "(@nestjs/platform-socket.io) with the SessionIoAdapter from 'nest-express-session/socket.io'.";
const WS_NO_SESSION =
  "nest-express-session: this socket's handshake did not go through the session middleware. Use the adapter: " +
  "app.useWebSocketAdapter(new SessionIoAdapter(app)) with SessionIoAdapter from 'nest-express-session/socket.io'.";

/**
 * The HTTP request behind an execution context: the request itself over HTTP, the `req` of the GraphQL
 * context, the handshake request of a socket.io client. Other contexts (microservices) get a clear error.
 */
export function requestOf(context: ExecutionContext): Request {
  const type = context.getType<string>();
  if (type === 'http') return context.switchToHttp().getRequest<Request>();
  if (type === 'graphql') {
    // The resolver's arguments are (root, args, context, info); Nest's GqlExecutionContext reads the same slot.
    const req = context.getArgByIndex<{ req?: Request } | undefined>(2)?.req;
    if (!req) throw new Error(GRAPHQL_NO_REQUEST);
    return req;
  }
  if (type === 'ws') {
    const req = context.switchToWs().getClient<{ request?: Request } | undefined>()?.request;
    if (!req || typeof req !== 'object') throw new Error(WS_NO_REQUEST);
    if (!servedBySession(req)) throw new Error(WS_NO_SESSION);
    return req;
  }
  throw new Error(
    `nest-express-session: sessions are available in HTTP handlers, GraphQL resolvers and socket.io gateways; ` +
      `this is a '${type}' context.`,
  );
}
