import { Body, Controller, Get, Post, Res } from '@nestjs/common';
import type { Response } from 'express';
import { SessionService } from 'nest-express-session';
import { UsersService } from './users.service.js';

/** Fields of the login form. */
interface LoginForm {
  username?: string;
  password?: string;
}

/**
 * Server-rendered pages beside the JSON routes, for a browser: a login form, a dashboard with a visit
 * counter and a logout button. Plain template strings; no view engine.
 */
@Controller('pages')
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
    html(res, 200, 'Sign in', loginForm());
  }

  @Post('login')
  async login(@Body() form: LoginForm = {}, @Res() res: Response): Promise<void> {
    const user = this.users.validate(form.username, form.password);
    if (!user) return html(res, 401, 'Sign in', loginForm('Wrong username or password.', form.username));
    await this.sessions.logIn(user.id, { username: user.username }, { keep: ['views'] });
    res.redirect(303, '/pages/dashboard');
  }

  @Get('dashboard')
  async dashboard(@Res() res: Response): Promise<void> {
    if (!(await this.sessions.isAuthenticated())) return res.redirect(303, '/pages/login');
    const views = (this.sessions.get('views') ?? 0) + 1;
    this.sessions.set('views', views);
    const username = this.sessions.get('username') ?? 'user';
    html(
      res,
      200,
      'Dashboard',
      `<h1>Dashboard</h1>
      <p id="user">Signed in as <strong>${escapeHtml(username)}</strong>.</p>
      <p id="visits">You have viewed this page <strong id="views">${views}</strong> ${views === 1 ? 'time' : 'times'}.</p>
      <form method="post" action="/pages/logout"><button id="logout" type="submit">Log out</button></form>`,
    );
  }

  @Post('logout')
  async logout(@Res() res: Response): Promise<void> {
    await this.sessions.logOut();
    res.redirect(303, '/pages/login');
  }
}

function loginForm(error?: string, username = ''): string {
  return `<h1>Sign in</h1>
    ${error ? `<p id="error" role="alert">${escapeHtml(error)}</p>` : ''}
    <form method="post" action="/pages/login">
      <label>Username <input id="username" name="username" autocomplete="username" value="${escapeHtml(username)}" required></label>
      <label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label>
      <button id="submit" type="submit">Sign in</button>
    </form>
    <p class="hint">Demo account: <code>demo</code> / <code>demo</code>.</p>`;
}

function html(res: Response, status: number, title: string, body: string): void {
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
    .hint { color: #616e7c; font-size: 0.9rem; }
  </style>
</head>
<body>
  ${body}
</body>
</html>
`);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
