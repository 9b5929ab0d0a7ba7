import { Body, Controller, Get, NotFoundException, Post, Res, UseGuards } from '@nestjs/common';
import type { Response } from 'express';
import { AuthenticatedGuard, CsrfGuard, CsrfToken, SessionRegistry, SessionService } from 'nest-express-session';
import type { SessionInfo } from 'nest-express-session';
import { escapeHtml, html, tokenField } from './pages.controller.js';

/** Fields of a "sign out" button's form. */
interface RevokeForm {
  handle?: string;
}

/**
 * "Your sessions": the devices the user is signed in on, a button to sign out each other one and one to
 * sign out everywhere else. A handle is revoked only when it is one of this user's own sessions.
 */
@Controller('pages/sessions')
@UseGuards(AuthenticatedGuard, CsrfGuard)
export class SessionsController {
  constructor(
    private readonly sessions: SessionService,
    private readonly registry: SessionRegistry,
  ) {}

  @Get()
  async page(@CsrfToken() token: string, @Res() res: Response): Promise<void> {
    const list = await this.registry.list(this.userId());
    const [notice] = this.sessions.takeFlash('info') as string[];
    html(
      res,
      200,
      'Your sessions',
      `<h1>Your sessions</h1>
      ${notice ? `<p id="flash" role="status">${escapeHtml(notice)}</p>` : ''}
      <ul id="sessions">${list.map((s) => row(s, token)).join('')}</ul>
      <form method="post" action="/pages/sessions/others">${tokenField(token)}<button id="revoke-others" type="submit">Sign out everywhere else</button></form>
      <p><a href="/pages/dashboard">Back to the dashboard</a></p>`,
    );
  }

  @Post('revoke')
  async revoke(@Body() form: RevokeForm = {}, @Res() res: Response): Promise<void> {
    const own = await this.registry.list(this.userId());
    // A handle from the form is only trusted when it names one of this user's sessions.
    const target = own.find((s) => s.handle === form.handle && !s.current);
    if (!target) throw new NotFoundException('No such session of yours');
    await this.registry.revoke(target.handle);
    this.sessions.flash('info', 'That device is signed out.');
    res.redirect(303, '/pages/sessions');
  }

  @Post('others')
  async revokeOthers(@Res() res: Response): Promise<void> {
    const ended = await this.sessions.logOutEverywhere({ keepCurrent: true });
    this.sessions.flash('info', `Signed out on ${ended} other ${ended === 1 ? 'device' : 'devices'}.`);
    res.redirect(303, '/pages/sessions');
  }

  private userId(): string | number {
    return this.sessions.get('userId') as string | number;
  }
}

/** A device of the list: its browser, IP and last use, and a sign-out button unless it is this one. */
function row(s: SessionInfo, token: string): string {
  const button = s.current
    ? '<strong class="current">this device</strong>'
    : `<form method="post" action="/pages/sessions/revoke">${tokenField(token)}<input type="hidden" name="handle" value="${escapeHtml(s.handle)}"><button class="revoke" type="submit">Sign out</button></form>`;
  return `<li class="session">
    <span class="browser">${escapeHtml(browserOf(s.userAgent))}</span> ·
    <span class="ip">${escapeHtml(s.ip ?? 'unknown IP')}</span> ·
    last seen <time datetime="${s.lastSeenAt.toISOString()}">${escapeHtml(s.lastSeenAt.toUTCString())}</time>
    ${button}</li>`;
}

/** A short browser name from a User-Agent (most specific token first: Edge and Chrome also say "Safari"). */
export function browserOf(userAgent: string | undefined): string {
  if (!userAgent) return 'Unknown browser';
  const known: [RegExp, string][] = [
    [/Edg\//, 'Edge'],
    [/HeadlessChrome\//, 'Chrome (headless)'],
    [/Chrome\//, 'Chrome'],
    [/Firefox\//, 'Firefox'],
    [/Safari\//, 'Safari'],
    [/curl\//, 'curl'],
    [/node|undici/i, 'Node.js'],
  ];
  return known.find(([re]) => re.test(userAgent))?.[1] ?? 'Other browser';
}
