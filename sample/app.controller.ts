import { Body, Controller, Get, HttpCode, Post, UnauthorizedException, UseGuards } from '@nestjs/common';
import { AuthenticatedGuard, Session, SessionService } from 'nest-express-session';
import type { SessionData } from 'express-session';
import { UsersService } from './users.service.js';

/** Credentials posted to `/login`. */
interface LoginBody {
  username?: string;
  password?: string;
}

@Controller()
export class AppController {
  constructor(
    private readonly sessions: SessionService,
    private readonly users: UsersService,
  ) {}

  /** Counts this browser's visits in its session. */
  @Get()
  visit(@Session() session: Partial<SessionData>): { message: string; views: number } {
    session.views = (session.views ?? 0) + 1;
    const message = session.views === 1 ? 'Welcome! First visit.' : `Number of visits: ${session.views}`;
    return { message, views: session.views };
  }

  /** Logs the demo user in: a new session id, the user's id stored in it. */
  @Post('login')
  @HttpCode(200)
  async login(@Body() body: LoginBody = {}): Promise<{ username: string }> {
    const user = this.users.validate(body.username, body.password);
    if (!user) throw new UnauthorizedException('Wrong username or password');
    await this.sessions.logIn(user.id, { username: user.username }, { keep: ['views'] });
    return { username: user.username };
  }

  /** Only for logged-in users. */
  @Get('dashboard')
  @UseGuards(AuthenticatedGuard)
  dashboard(@Session('username') username: string, @Session('views') views = 0): { username: string; views: number } {
    return { username, views };
  }

  /**
   * A CSRF token for a single-page app, which sends it back in the `x-csrf-token` header of its POSTs
   * (each call gives a differently masked token of the same session secret).
   */
  @Get('csrf-token')
  csrfToken(): { token: string } {
    return { token: this.sessions.csrfToken() };
  }

  /** Ends the session and expires its cookie. */
  @Post('logout')
  @HttpCode(200)
  async logout(): Promise<{ loggedOut: true }> {
    await this.sessions.logOut();
    return { loggedOut: true };
  }
}
