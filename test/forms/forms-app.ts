import { Body, Controller, Get, HttpCode, Post, Redirect, Req, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import {
  AuthenticatedGuard,
  CsrfGuard,
  CsrfToken,
  Flash,
  RequireRecentLogin,
  SessionService,
  SkipCsrf,
} from 'nest-express-session';

/** How many times the guarded handlers ran: a refused request must not run its handler. */
export const ran = { count: 0 };

/** Token, form and login routes for the CSRF tests. */
@Controller('form')
export class FormController {
  constructor(private readonly sessions: SessionService) {}

  @Get('token')
  token(): { token: string } {
    return { token: this.sessions.csrfToken() };
  }

  @Get('token-param')
  tokenParam(@CsrfToken() token: string): { token: string } {
    return { token };
  }

  @Post('submit')
  @HttpCode(200)
  @UseGuards(CsrfGuard)
  submit(): { ok: true } {
    ran.count += 1;
    return { ok: true };
  }

  @Get('submit')
  @UseGuards(CsrfGuard)
  read(): { ok: true } {
    return { ok: true };
  }

  @Post('skip')
  @HttpCode(200)
  @UseGuards(CsrfGuard)
  @SkipCsrf()
  skip(): { ok: true } {
    return { ok: true };
  }

  @Post('login')
  @HttpCode(200)
  @UseGuards(CsrfGuard)
  async login(@Body() body: { userId?: string }): Promise<{ id: string }> {
    await this.sessions.logIn(body.userId ?? 'alice');
    return { id: this.sessions.id };
  }

  /** What the handler sees of the session: its keys (the module's form state must not be one). */
  @Get('keys')
  keys(@Req() req: Request): { keys: string[]; json: Record<string, unknown> } {
    const session = req.session as unknown as Record<string, unknown>;
    return { keys: Object.keys(session), json: JSON.parse(JSON.stringify(session)) as Record<string, unknown> };
  }
}

/** Flash messages across a redirect. */
@Controller('flash')
export class FlashController {
  constructor(private readonly sessions: SessionService) {}

  @Post('set')
  @Redirect('/flash/read', 303)
  set(@Body() body: { message?: string; type?: string }): void {
    this.sessions.flash(body.type ?? 'info', body.message ?? 'Saved.');
  }

  @Get('read')
  read(@Flash('info') info: unknown[]): { info: unknown[] } {
    return { info };
  }

  @Get('all')
  all(@Flash() all: Record<string, unknown[]>): { all: Record<string, unknown[]> } {
    return { all };
  }

  @Get('take')
  take(): { info: unknown[]; rest: Record<string, unknown[]> } {
    return { info: this.sessions.takeFlash('info'), rest: this.sessions.takeFlash() };
  }

  @Post('logout')
  @Redirect('/flash/read', 303)
  async logout(): Promise<void> {
    await this.sessions.logOut();
    this.sessions.flash('info', 'You are signed out.');
  }
}

/** Recent-login routes. */
@Controller('account')
@UseGuards(AuthenticatedGuard)
export class AccountController {
  constructor(private readonly sessions: SessionService) {}

  @Get('me')
  me(): { loggedInAt: string | null } {
    return { loggedInAt: this.sessions.loggedInAt?.toISOString() ?? null };
  }

  @Post('password')
  @HttpCode(200)
  @RequireRecentLogin(60_000)
  password(): { changed: true } {
    return { changed: true };
  }

  @Post('confirm')
  @HttpCode(200)
  confirm(): { ok: true } {
    this.sessions.confirmLogin();
    return { ok: true };
  }
}

/** A controller that requires a recent login for all its handlers. */
@Controller('danger')
@UseGuards(AuthenticatedGuard)
@RequireRecentLogin(60_000)
export class DangerController {
  @Post('delete')
  @HttpCode(200)
  remove(): { deleted: true } {
    return { deleted: true };
  }
}
