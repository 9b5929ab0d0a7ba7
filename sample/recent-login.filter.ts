import { Catch, UnauthorizedException } from '@nestjs/common';
import type { ArgumentsHost, ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { SessionService } from 'nest-express-session';

/**
 * Turns AuthenticatedGuard's 401 on a page into a redirect a person can follow: to the login form when
 * signed out, to the "confirm it is you" form when the login is too old for the page.
 */
@Catch(UnauthorizedException)
export class RecentLoginFilter implements ExceptionFilter {
  constructor(private readonly sessions: SessionService) {}

  async catch(_error: UnauthorizedException, host: ArgumentsHost): Promise<void> {
    const res = host.switchToHttp().getResponse<Response>();
    res.redirect(303, (await this.sessions.isAuthenticated()) ? '/pages/confirm' : '/pages/login');
  }
}
