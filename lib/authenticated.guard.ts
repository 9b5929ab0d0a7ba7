import { Inject, Injectable, Optional, SetMetadata, UnauthorizedException } from '@nestjs/common';
import type { CanActivate, CustomDecorator, ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import type { Store } from 'express-session';
import { ALLOW_ANONYMOUS_KEY, SESSION_MODULE_OPTIONS } from './session.constants.js';
import type { RequestSession } from './interfaces/index.js';
import { requestOf } from './middleware/request-context.js';
import { readRecord } from './stores/store-call.js';
import { STORE_UNAVAILABLE_MESSAGE } from './session.errors.js';
import { defaultIsAuthenticated } from './resolve-options.js';
import type { ResolvedSessionModuleOptions } from './resolve-options.js';
import { assertSessionLoaded } from './middleware/load-failure.js';
import { exemptByAllowAnonymous } from './guard-scope.js';
import { assertRecentLogin } from './forms/recent-login.js';

/**
 * Lets a handler or controller through the `AuthenticatedGuard`s declared at a wider scope: app-wide ones for a
 * controller or handler, the controller's too for a handler. A guard declared at the same scope or narrower
 * (`@UseGuards(AdminGuard)` on a handler of an `@AllowAnonymous()` controller, say) still applies.
 */
export const AllowAnonymous = (): CustomDecorator<string> => SetMetadata(ALLOW_ANONYMOUS_KEY, true);

/**
 * Refuses (401) requests whose session is not logged in. Use it per controller or handler with
 * `@UseGuards(AuthenticatedGuard)`, or app-wide as `APP_GUARD` with `@AllowAnonymous()` for the exceptions.
 * In GraphQL resolvers the 401 becomes an `UNAUTHENTICATED` error. In socket.io gateways it reads the
 * socket's session again from the store first (a logout over HTTP reaches open sockets) and refuses with a
 * `WsException`. Extend it and override `isAuthenticated` to change the check.
 */
@Injectable()
export class AuthenticatedGuard implements CanActivate {
  constructor(
    protected readonly reflector: Reflector,
    @Optional() @Inject(SESSION_MODULE_OPTIONS) protected readonly options?: ResolvedSessionModuleOptions,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (exemptByAllowAnonymous(this.reflector, context, this)) return true;
    if (context.getType<string>() === 'ws') return this.canActivateSocket(context);
    const req = requestOf(context);
    assertSessionLoaded(req);
    if (await this.isAuthenticated(req.session, req, context)) {
      return assertRecentLogin(this.reflector, context, req.session);
    }
    throw new UnauthorizedException();
  }

  /** The check itself: by default the module's `isAuthenticated` option. */
  protected isAuthenticated(
    session: RequestSession | undefined,
    request: Request,
    _context: ExecutionContext,
  ): boolean | Promise<boolean> {
    const check = this.options?.isAuthenticated ?? defaultIsAuthenticated;
    return session ? check(session, request) : false;
  }

  /**
   * Reads a socket's session again from the store, so that a logout or login over HTTP after the
   * handshake is seen. A session no longer in the store is replaced by a fresh anonymous one, as
   * express-session does for a cookie whose session is gone.
   */
  protected async reloadSocketSession(request: Request): Promise<void> {
    const store = request.sessionStore as (Store & { generate?: (req: Request) => void }) | undefined;
    if (!store || !request.session) return;
    const data = await readRecord(store, request.sessionID);
    if (data) store.createSession(request, data);
    else store.generate?.(request);
  }

  private async canActivateSocket(context: ExecutionContext): Promise<boolean> {
    // Loaded only here, so that apps without WebSockets never need @nestjs/websockets installed.
    const { WsException } = await import('@nestjs/websockets');
    const req = requestOf(context);
    try {
      await this.reloadSocketSession(req);
    } catch {
      throw new WsException(STORE_UNAVAILABLE_MESSAGE);
    }
    if (await this.isAuthenticated(req.session, req, context)) return true;
    throw new WsException('Unauthorized');
  }
}
