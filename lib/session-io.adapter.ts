import type { INestApplicationContext } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { IncomingMessage } from 'node:http';
import { HttpAdapterHost } from '@nestjs/core';
import type { Express, NextFunction, Request, Response } from 'express';
import { SESSION_MODULE_OPTIONS, SESSION_RUNTIME } from './session.constants.js';
import type { SessionModuleOptions } from './interfaces/index.js';
import { resolveCsrfOptions } from './forms/csrf-options.js';
import { socketOriginProblem } from './forms/socket-origin.js';
import { STORE_UNAVAILABLE_MESSAGE } from './session.errors.js';
import { loadFailure } from './middleware/load-failure.js';
import type { SessionRuntime } from './middleware/session-runtime.js';
import type { ResolvedSessionModuleOptions } from './resolve-options.js';
import { disconnectEndedSessions } from './controls/socket-rooms.js';

type IoServer = ReturnType<IoAdapter['createIOServer']>;
type IoServerOptions = Parameters<IoAdapter['createIOServer']>[1];
type IoCreateOptions = Parameters<IoAdapter['create']>[1];
type Namespaced = ReturnType<IoAdapter['create']>;
type HandshakeRequest = Request & { _query?: Record<string, string> };

/**
 * The socket.io adapter of `@nestjs/platform-socket.io` with the session: the session middleware runs on
 * every socket's handshake request, so gateways get `client.request.session`, `@Session()` and
 * `AuthenticatedGuard`. A socket opened with the cookie of a session logged in over HTTP is logged in.
 * A handshake whose session cannot be loaded (store down) is refused with a `connect_error` whose
 * message is the module's 503 message and whose `data` is `{ status: 503 }`.
 *
 * ```ts
 * const app = await NestFactory.create(AppModule);
 * app.useWebSocketAdapter(new SessionIoAdapter(app));
 * ```
 *
 * A socket opened with a logged-in session is disconnected when this instance revokes, evicts or logs out that
 * session; on other instances its next message finds the session gone.
 *
 * Changes made to the session in a gateway are not saved on their own (a socket has no response to
 * end): call `session.save()`.
 */
export class SessionIoAdapter extends IoAdapter {
  private runtime?: SessionRuntime;
  private trusted?: ReadonlySet<string>;
  private express?: Express;
  private readonly guarded = new WeakSet<object>();
  private readonly watching = new Map<object, Subscription>();

  constructor(private readonly app: INestApplicationContext) {
    super(app);
  }

  override create(port: number, options?: IoCreateOptions): Namespaced {
    const server = super.create(port, options);
    if (!this.guarded.has(server)) {
      this.guarded.add(server);
      server.use((socket, next) => {
        const refused = this.originProblem(socket.request);
        if (refused) return next(Object.assign(new Error(refused), { data: { status: 403 } }));
        if (loadFailure(socket.request as Request) === undefined) return next();
        next(Object.assign(new Error(STORE_UNAVAILABLE_MESSAGE), { data: { status: 503 } }));
      });
      const options = this.app.get<ResolvedSessionModuleOptions>(SESSION_MODULE_OPTIONS, { strict: false });
      this.watching.set(server, disconnectEndedSessions(server as never, options));
    }
    return server;
  }

  override async close(server: IoServer): Promise<void> {
    this.watching.get(server)?.unsubscribe();
    this.watching.delete(server);
    await super.close(server);
  }

  override createIOServer(port: number, options?: IoServerOptions): IoServer {
    const server = super.createIOServer(port, options);
    // express-session alone: socket.io answers its requests before Express, so no request context is open,
    // and none is opened for the socket's later life (SessionService belongs to HTTP requests).
    const session = this.sessionRuntime().handshake;
    server.engine.use((req: HandshakeRequest, res: Response, next: NextFunction) => {
      // engine.io runs its middleware on every request of a connection (each long-poll too); the session
      // is loaded once, on the handshake, the only request without a `sid` in its query.
      if (req._query?.sid !== undefined) return next();
      session(req, res, next);
    });
    return server;
  }

  /** Whether the handshake's Origin may use the session (as CsrfGuard judges it; the `csrf` option's trusted origins). */
  private originProblem(request: IncomingMessage): string | undefined {
    if (!this.trusted) {
      const options = this.app.get<SessionModuleOptions>(SESSION_MODULE_OPTIONS, { strict: false });
      this.trusted = resolveCsrfOptions(options.csrf).trustedOrigins;
      this.express = this.app.get(HttpAdapterHost, { strict: false }).httpAdapter?.getInstance<Express>();
    }
    return socketOriginProblem(request, this.express, this.trusted);
  }

  private sessionRuntime(): SessionRuntime {
    if (this.runtime) return this.runtime;
    try {
      this.runtime = this.app.get<SessionRuntime>(SESSION_RUNTIME, { strict: false });
    } catch {
      throw new Error(
        'SessionIoAdapter: SessionModule is not imported in this application; import SessionModule.forRoot(...) first.',
      );
    }
    return this.runtime;
  }
}
