import { Inject, Injectable, Optional, SetMetadata, UnauthorizedException } from '@nestjs/common';
import type { CanActivate, CustomDecorator, ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ALLOW_ANONYMOUS_KEY, SESSION_MODULE_OPTIONS } from './session.constants.js';
import type { RequestSession } from './interfaces/index.js';
import { requestOf } from './request.util.js';
import { assertSessionLoaded } from './session-availability.guard.js';
import { defaultIsAuthenticated } from './session.options.js';
import type { ResolvedSessionModuleOptions } from './session.options.js';

/** Lets a handler or controller through `AuthenticatedGuard` (for example when the guard is global). */
export const AllowAnonymous = (): CustomDecorator<string> => SetMetadata(ALLOW_ANONYMOUS_KEY, true);

/**
 * Refuses (401) requests whose session is not logged in. Use it per controller or handler with
 * `@UseGuards(AuthenticatedGuard)`, or app-wide as `APP_GUARD` with `@AllowAnonymous()` for the exceptions.
 * Extend it and override `isAuthenticated` to change the check.
 */
@Injectable()
export class AuthenticatedGuard implements CanActivate {
  constructor(
    protected readonly reflector: Reflector,
    @Optional() @Inject(SESSION_MODULE_OPTIONS) protected readonly options?: ResolvedSessionModuleOptions,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(ALLOW_ANONYMOUS_KEY, targets)) return true;
    const req = requestOf(context);
    assertSessionLoaded(req);
    if (await this.isAuthenticated(req.session, req, context)) return true;
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
}
