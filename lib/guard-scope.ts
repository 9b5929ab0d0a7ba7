import type { CanActivate, ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import { ALLOW_ANONYMOUS_KEY } from './session.constants.js';

/**
 * The key `@UseGuards()` stores its guards under, on a controller class and on a handler. Written out rather
 * than imported: Nest 12 no longer exports it from `@nestjs/common`, and its value has never changed.
 */
const GUARDS_METADATA = '__guards__';

/**
 * Whether `@AllowAnonymous()` exempts this guard from the current route: only a guard declared at a wider scope
 * than the decorator is exempted (app-wide for a decorator on a controller or handler; the controller too for
 * one on a handler). A guard declared at the decorator's own scope or narrower always applies, so a controller
 * marked `@AllowAnonymous()` never switches off a `@UseGuards(...)` on one of its handlers.
 *
 * A guard does not know where it was declared, so this asks the other way round: is it listed in the
 * `@UseGuards()` of the scopes that stay guarded? A guard that is listed there applies wherever Nest runs it;
 * one listed nowhere was given app-wide (`APP_GUARD`, `useGlobalGuards`). Guards are listed as classes (Nest
 * runs one instance per class; the class must match exactly, so an `AdminGuard` declared on a handler does not
 * keep an app-wide `AuthenticatedGuard` on it) or as instances (matched by identity).
 */
export function exemptByAllowAnonymous(reflector: Reflector, context: ExecutionContext, guard: CanActivate): boolean {
  const handler = context.getHandler();
  const controller = context.getClass();
  if (reflector.get<boolean | undefined>(ALLOW_ANONYMOUS_KEY, handler)) {
    return !declaredOn(reflector, handler, guard);
  }
  if (reflector.get<boolean | undefined>(ALLOW_ANONYMOUS_KEY, controller)) {
    return !declaredOn(reflector, handler, guard) && !declaredOn(reflector, controller, guard);
  }
  return false;
}

/** Whether `@UseGuards()` on a handler or controller lists this guard (its exact class, or this instance). */
function declaredOn(reflector: Reflector, target: object, guard: CanActivate): boolean {
  const listed = reflector.get<unknown[] | undefined>(GUARDS_METADATA, target as never) ?? [];
  return listed.some((entry) => entry === guard || entry === guard.constructor);
}
