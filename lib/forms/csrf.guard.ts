import { ForbiddenException, Inject, Injectable, Optional, SetMetadata } from '@nestjs/common';
import type { CanActivate, CustomDecorator, ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { SESSION_MODULE_OPTIONS } from '../session.constants.js';
import type { SessionModuleOptions } from '../interfaces/index.js';
import { requestOf } from '../middleware/request-context.js';
import { resolveCsrfOptions } from './csrf-options.js';
import type { ResolvedCsrfOptions } from './csrf-options.js';
import { csrfTokenProblem } from './csrf-token.js';
import { firstHeader, originVerdict } from './request-origin.js';

/** Metadata key set by `@SkipCsrf()`. */
const SKIP_CSRF_KEY = 'NEST_EXPRESS_SESSION:SKIP_CSRF';

/** Lets a handler or controller through `CsrfGuard` (a webhook that authenticates otherwise, say). */
export const SkipCsrf = (): CustomDecorator<string> => SetMetadata(SKIP_CSRF_KEY, true);

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses (403) state-changing requests forged by other sites. GET, HEAD and OPTIONS pass. Any other method
 * passes when the browser says it is same-origin (`Sec-Fetch-Site: same-origin` or `none`, or without that
 * header an `Origin` equal to the app's own) or when it comes from a trusted origin; a request the browser marks
 * cross-site from any other origin is refused even with a token; every other request (same-site, or no browser
 * headers at all) needs a valid token of its session (`SessionService.csrfToken()`, `@CsrfToken()`) in the
 * header or the body field. It never creates a session. Use it per route or controller with
 * `@UseGuards(CsrfGuard)`, or app-wide as `APP_GUARD` with `@SkipCsrf()` for the exceptions.
 */
@Injectable()
export class CsrfGuard implements CanActivate {
  private readonly csrf: ResolvedCsrfOptions;

  constructor(
    protected readonly reflector: Reflector,
    @Optional() @Inject(SESSION_MODULE_OPTIONS) options?: SessionModuleOptions,
  ) {
    this.csrf = resolveCsrfOptions(options?.csrf);
  }

  canActivate(context: ExecutionContext): boolean {
    if (context.getType<string>() !== 'http') return true;
    const req = requestOf(context);
    if (SAFE_METHODS.has(req.method)) return true;
    if (this.reflector.getAllAndOverride<boolean>(SKIP_CSRF_KEY, [context.getHandler(), context.getClass()])) {
      return true;
    }
    const verdict = originVerdict(req, this.csrf.trustedOrigins);
    if (verdict === 'same-origin' || verdict === 'trusted') return true;
    if (verdict === 'cross-site') {
      throw new ForbiddenException(
        'CSRF check failed: the browser marked this request cross-site (Sec-Fetch-Site) and its origin is not trusted.',
      );
    }
    const token = this.tokenOf(req);
    const where = `the ${this.csrf.header} header or the ${this.csrf.field} body field`;
    const from = verdict === 'other-origin' ? " (its Origin is not this app's origin)" : '';
    if (token === undefined) {
      throw new ForbiddenException(`CSRF check failed: this request${from} needs a CSRF token in ${where}.`);
    }
    const problem = csrfTokenProblem(req.session ?? undefined, token);
    if (problem === 'no-secret') {
      throw new ForbiddenException(
        'CSRF check failed: this session has no CSRF token yet; load the form (or the token endpoint) first.',
      );
    }
    if (problem) throw new ForbiddenException('CSRF check failed: the CSRF token is not valid for this session.');
    return true;
  }

  private tokenOf(req: Request): string | undefined {
    const fromHeader = firstHeader(req.headers[this.csrf.header]);
    if (fromHeader) return fromHeader;
    const body = req.body as Record<string, unknown> | undefined;
    const field = body && typeof body === 'object' ? body[this.csrf.field] : undefined;
    return typeof field === 'string' && field !== '' ? field : undefined;
  }
}
