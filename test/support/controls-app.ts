import { Body, Controller, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import type { Store } from 'express-session';
import { AuthenticatedGuard, SessionModule, SessionRegistry, SessionService } from 'nest-express-session';
import type { SessionEvent, SessionInfo, SessionModuleOptions } from 'nest-express-session';
import type { AppSpec } from './app.js';
import { TEST_SECRET } from './app.js';

/** Routes over SessionService and SessionRegistry, as an app's "your sessions" page would call them. */
@Controller()
export class ControlsController {
  static gates = new Map<string, () => void>();
  static events: SessionEvent[] = [];

  constructor(
    private readonly sessions: SessionService,
    private readonly registry: SessionRegistry,
  ) {}

  @Post('login')
  @HttpCode(200)
  async login(@Body() body: { userId: string | number }): Promise<{ handle: string | undefined }> {
    await this.sessions.logIn(body.userId);
    return { handle: this.sessions.handle };
  }

  @Get('me')
  @UseGuards(AuthenticatedGuard)
  me(): { userId: unknown; handle: string | undefined } {
    return { userId: this.sessions.get('userId'), handle: this.sessions.handle };
  }

  @Get('handle')
  handle(): { handle: string | null } {
    return { handle: this.sessions.handle ?? null };
  }

  @Get('sessions')
  @UseGuards(AuthenticatedGuard)
  list(): Promise<SessionInfo[]> {
    return this.registry.list(this.sessions.get('userId')!);
  }

  @Post('revoke')
  @HttpCode(200)
  async revoke(@Body() body: { handle: string }): Promise<{ revoked: boolean }> {
    return { revoked: await this.registry.revoke(body.handle) };
  }

  @Post('everywhere')
  @HttpCode(200)
  @UseGuards(AuthenticatedGuard)
  async everywhere(@Body() body: { keepCurrent?: boolean }): Promise<{ ended: number }> {
    return { ended: await this.sessions.logOutEverywhere(body) };
  }

  @Post('logout')
  @HttpCode(200)
  async logout(): Promise<{ ok: true }> {
    await this.sessions.logOut();
    return { ok: true };
  }

  /** Sets the body's keys, then waits for the test to open the gate before answering. */
  @Post('set-slow/:gate')
  @HttpCode(200)
  async setSlow(@Param('gate') gate: string, @Body() body: Record<string, unknown>): Promise<{ ok: true }> {
    Object.assign(this.sessions.session, body);
    await new Promise<void>((resolve) => ControlsController.gates.set(gate, resolve));
    return { ok: true };
  }
}

/** An app with the session controls on `store` (the embedded store when undefined). */
export function controlsApp(store: Store | undefined, options: Partial<SessionModuleOptions> = {}): AppSpec {
  return {
    imports: [
      SessionModule.forRoot({
        ...options,
        session: { secret: TEST_SECRET, ...(store ? { store } : {}), ...options.session },
      }),
    ],
    controllers: [ControlsController],
    setup: (app) => {
      app.set('trust proxy', 'loopback');
    },
  };
}
