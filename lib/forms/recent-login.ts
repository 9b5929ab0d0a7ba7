import { SetMetadata, UnauthorizedException } from '@nestjs/common';
import type { CustomDecorator, ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import { formsStateFor, formsStateOf } from './forms-state.js';

/** Metadata key set by `@RequireRecentLogin(ms)`. */
const RECENT_LOGIN_KEY = 'NEST_EXPRESS_SESSION:RECENT_LOGIN';

/**
 * Makes `AuthenticatedGuard` refuse (401) a handler or controller unless the session logged in (or called
 * `SessionService.confirmLogin()`) at most `ms` milliseconds ago: for changing a password, deleting an account.
 */
export const RequireRecentLogin = (ms: number): CustomDecorator<string> => {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
    throw new Error(`@RequireRecentLogin(ms) takes a number of milliseconds above 0, not ${String(ms)}.`);
  }
  return SetMetadata(RECENT_LOGIN_KEY, ms);
};

/** When the session last logged in or confirmed its login. */
export function loggedInAtOf(session: object | undefined): Date | undefined {
  const at = formsStateOf(session)?.loggedInAt;
  return at === undefined ? undefined : new Date(at);
}

/** Records that the session logged in (or confirmed its login) now. */
export function markLoggedIn(session: object): void {
  formsStateFor(session).loggedInAt = Date.now();
}

/**
 * Called by `AuthenticatedGuard` once the session is authenticated: true, or a 401 when the route asks for a
 * recent login and this one is older (or unknown).
 */
export function assertRecentLogin(reflector: Reflector, context: ExecutionContext, session: object | undefined): true {
  const window = reflector.getAllAndOverride<number | undefined>(RECENT_LOGIN_KEY, [
    context.getHandler(),
    context.getClass(),
  ]);
  if (window === undefined) return true;
  const at = formsStateOf(session)?.loggedInAt;
  if (at !== undefined && Date.now() - at <= window) return true;
  throw new UnauthorizedException('A fresh login is needed for this action: sign in again to confirm it is you.');
}
