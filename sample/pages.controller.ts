import { Body, Controller, Get, Post, Res, UseFilters, UseGuards } from '@nestjs/common';
import type { Response } from 'express';
import {
  AuthenticatedGuard,
  CsrfGuard,
  CsrfToken,
  Flash,
  RequireRecentLogin,
  SessionService,
} from 'nest-express-session';
import { RecentLoginFilter } from './recent-login.filter.js';
import { UsersService } from './users.service.js';

/** Fields of the login form. */
interface LoginForm {
  username?: string;
  password?: string;
}

/** How recent a login the password page asks for. */
const RECENT = 5 * 60 * 1000;

/**
 * Server-rendered pages beside the JSON routes, for a browser: a login form, a dashboard with a visit
 * counter and a logout button, and a password page that asks for a recent login. Every form carries the
 * session's CSRF token and every POST goes through CsrfGuard. Plain template strings; no view engine.
 */
@Controller('pages')
@UseGuards(CsrfGuard)
export class PagesController {
  constructor(
    private readonly sessions: SessionService,
    private readonly users: UsersService,
  ) {}

  @Get()
  home(@Res() res: Response): void {
    res.redirect(303, '/pages/dashboard');
  }

  @Get('login')
  async loginPage(@Res() res: Response): Promise<void> {
    if (await this.sessions.isAuthenticated()) return res.redirect(303, '/pages/dashboard');
    const [notice] = this.sessions.takeFlash('info') as string[];
    html(res, 200, 'Sign in', loginForm(this.sessions.csrfToken(), { notice }));
  }

  @Post('login')
  async login(@Body() form: LoginForm = {}, @Res() res: Response): Promise<void> {
    const user = this.users.validate(form.username, form.password);
    if (!user) {
      const error = 'Wrong username or password.';
      return html(res, 401, 'Sign in', loginForm(this.sessions.csrfToken(), { error, username: form.username }));
    }
    await this.sessions.logIn(user.id, { username: user.username }, { keep: ['views'] });
    res.redirect(303, '/pages/dashboard');
  }

  @Get('dashboard')
  async dashboard(@Flash('info') notices: string[], @Res() res: Response): Promise<void> {
    if (!(await this.sessions.isAuthenticated())) return res.redirect(303, '/pages/login');
    const views = (this.sessions.get('views') ?? 0) + 1;
    this.sessions.set('views', views);
    const username = this.sessions.get('username') ?? 'user';
    html(
      res,
      200,
      'Dashboard',
      `<h1>Dashboard</h1>
      ${notices.map((n) => `<p id="flash" role="status">${escapeHtml(n)}</p>`).join('')}
      <p id="user">Signed in as <strong>${escapeHtml(username)}</strong>.</p>
      <p id="visits">You have viewed this page <strong id="views">${views}</strong> ${views === 1 ? 'time' : 'times'}.</p>
      <p><a id="change-password" href="/pages/password">Change password</a></p>
      <p><a id="your-sessions" href="/pages/sessions">Your sessions</a></p>
      <form method="post" action="/pages/logout">${tokenField(this.sessions.csrfToken())}<button id="logout" type="submit">Log out</button></form>`,
    );
  }

  @Post('logout')
  async logout(@Res() res: Response): Promise<void> {
    await this.sessions.logOut();
    // A new, anonymous session carries the message to the next page, once.
    this.sessions.flash('info', 'You are signed out.');
    res.redirect(303, '/pages/login');
  }

  /** Asks for the password again when the login is too old for the password page; then it is recent again. */
  @Get('confirm')
  @UseGuards(AuthenticatedGuard)
  @UseFilters(RecentLoginFilter)
  confirmPage(@CsrfToken() token: string, @Res() res: Response): void {
    html(res, 200, 'Confirm it is you', confirmForm(token));
  }

  @Post('confirm')
  @UseGuards(AuthenticatedGuard)
  @UseFilters(RecentLoginFilter)
  confirm(@Body() form: LoginForm = {}, @Res() res: Response): void {
    const username = this.sessions.get('username');
    if (!this.users.validate(username, form.password)) {
      return html(res, 401, 'Confirm it is you', confirmForm(this.sessions.csrfToken(), 'Wrong password.'));
    }
    this.sessions.confirmLogin();
    res.redirect(303, '/pages/password');
  }

  @Get('password')
  @UseGuards(AuthenticatedGuard)
  @RequireRecentLogin(RECENT)
  @UseFilters(RecentLoginFilter)
  passwordPage(@CsrfToken() token: string, @Res() res: Response): void {
    html(
      res,
      200,
      'Change password',
      `<h1>Change password</h1>
      <form method="post" action="/pages/password">${tokenField(token)}
        <label>New password <input id="new-password" name="password" type="password" autocomplete="new-password" required></label>
        <button id="save" type="submit">Save</button>
      </form>`,
    );
  }

  @Post('password')
  @UseGuards(AuthenticatedGuard)
  @RequireRecentLogin(RECENT)
  @UseFilters(RecentLoginFilter)
  changePassword(@Body() form: LoginForm = {}, @Res() res: Response): void {
    if (typeof form.password !== 'string' || form.password === '') return res.redirect(303, '/pages/password');
    this.users.changePassword(Number(this.sessions.get('userId')), form.password);
    this.sessions.flash('info', 'Your password was changed.');
    res.redirect(303, '/pages/dashboard');
  }
}

/** The hidden field that carries the CSRF token in a form. */
export function tokenField(token: string): string {
  return `<input type="hidden" name="_csrf" value="${escapeHtml(token)}">`;
}

function loginForm(
  token: string,
  { error, notice, username = '' }: { error?: string; notice?: string; username?: string },
): string {
  return `<h1>Sign in</h1>
    ${notice ? `<p id="flash" role="status">${escapeHtml(notice)}</p>` : ''}
    ${error ? `<p id="error" role="alert">${escapeHtml(error)}</p>` : ''}
    <form method="post" action="/pages/login">${tokenField(token)}
      <label>Username <input id="username" name="username" autocomplete="username" value="${escapeHtml(username)}" required></label>
      <label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label>
      <button id="submit" type="submit">Sign in</button>
    </form>
    <p class="hint">Demo account: <code>demo</code> / <code>demo</code>.</p>`;
}

function confirmForm(token: string, error?: string): string {
  return `<h1>Confirm it is you</h1>
    <p>Changing your password needs a recent sign-in. Enter your password again.</p>
    ${error ? `<p id="error" role="alert">${escapeHtml(error)}</p>` : ''}
    <form method="post" action="/pages/confirm">${tokenField(token)}
      <label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label>
      <button id="confirm" type="submit">Confirm</button>
    </form>`;
}

/** Sends a page of the sample. */
export function html(res: Response, status: number, title: string, body: string): void {
  res.status(status).set({ 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' })
    .send(`<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${escapeHtml(title)} · nest-express-session sample</title>
  <style>
    body { font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem; color: #1f2933; }
    h1 { color: #e0234e; }
    label { display: block; margin: 0.75rem 0; }
    input { display: block; width: 100%; padding: 0.4rem; margin-top: 0.25rem; box-sizing: border-box; }
    button { padding: 0.5rem 1.25rem; background: #e0234e; color: #fff; border: 0; border-radius: 4px; cursor: pointer; }
    [role="alert"] { color: #b42318; }
    [role="status"] { color: #046c4e; }
    .hint { color: #616e7c; font-size: 0.9rem; }
  </style>
</head>
<body>
  ${body}
</body>
</html>
`);
}

/** Text made safe to put in HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
