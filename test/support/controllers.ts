import { Body, Controller, Get, HttpCode, Param, Post, Res, UseGuards } from '@nestjs/common';
import type { Response } from 'express';
import type { SessionData } from 'express-session';
import { AllowAnonymous, AuthenticatedGuard, Session, SessionService } from 'nest-express-session';
import type { SessionKey } from 'nest-express-session';
import { sleep } from './net.js';

/** How many times any handler in these controllers ran. */
export const handled = { count: 0 };

/** Counts visits; the same handler on `/`, a nested path and `/other`. */
@Controller()
export class CounterController {
  @Get()
  root(@Session() session: Partial<SessionData>): { views: number } {
    return this.count(session);
  }

  @Get('nested/deep/path')
  nested(@Session() session: Partial<SessionData>): { views: number } {
    return this.count(session);
  }

  @Get('other')
  other(@Session() session: Partial<SessionData>): { views: number | null } {
    if (!session) {
      handled.count += 1;
      return { views: null };
    }
    return this.count(session);
  }

  @Get('whoami')
  whoami(@Session('userId') userId: string | undefined): { userId: string | null } {
    handled.count += 1;
    return { userId: userId ?? null };
  }

  private count(session: Partial<SessionData>): { views: number } {
    handled.count += 1;
    session.views = (session.views ?? 0) + 1;
    return { views: session.views };
  }
}

/** Login, logout and the service's members over HTTP. */
@Controller('auth')
export class AuthController {
  /** Resolves the gate a handler is waiting on. */
  static gates = new Map<string, () => void>();

  constructor(private readonly sessions: SessionService) {}

  @Post('login')
  @HttpCode(200)
  async login(
    @Body() body: { userId?: string; data?: Partial<SessionData>; keep?: SessionKey[] } = {},
  ): Promise<{ id: string }> {
    await this.sessions.logIn(body.userId ?? 'alice', body.data, { keep: body.keep });
    return { id: this.sessions.id };
  }

  @Post('logout')
  @HttpCode(200)
  async logout(): Promise<{ ok: true }> {
    await this.sessions.logOut();
    return { ok: true };
  }

  @Get('me')
  @UseGuards(AuthenticatedGuard)
  me(@Session('userId') userId: string | number): { userId: string | number } {
    return { userId };
  }

  @Get('state')
  async state(): Promise<{ id: string; authenticated: boolean; data: Record<string, unknown> }> {
    const data = { ...(this.sessions.session as unknown as Record<string, unknown>) };
    delete data.cookie;
    return { id: this.sessions.id, authenticated: await this.sessions.isAuthenticated(), data };
  }

  @Post('set')
  @HttpCode(200)
  set(@Body() body: Partial<SessionData>): { id: string } {
    for (const [key, value] of Object.entries(body)) this.sessions.set(key as SessionKey, value);
    return { id: this.sessions.id };
  }

  @Post('regenerate')
  @HttpCode(200)
  async regenerate(@Body() body: { keep?: SessionKey[] } = {}): Promise<{ id: string }> {
    await this.sessions.regenerate({ keep: body.keep });
    return { id: this.sessions.id };
  }

  /** Sets a key, saves, then waits until the test opens the gate named in the body. */
  @Post('save-and-wait')
  @HttpCode(200)
  async saveAndWait(@Body() body: { gate: string; role: string }): Promise<{ id: string }> {
    this.sessions.set('role', body.role);
    await this.sessions.save();
    await new Promise<void>((resolve) => AuthController.gates.set(body.gate, resolve));
    return { id: this.sessions.id };
  }

  @Post('reload')
  @HttpCode(200)
  async reload(@Body() body: { role: string }): Promise<{ role: string | null }> {
    this.sessions.set('role', body.role);
    await this.sessions.reload();
    return { role: this.sessions.get('role') ?? null };
  }

  @Post('destroy')
  @HttpCode(200)
  async destroy(): Promise<{ ok: true }> {
    await this.sessions.destroy();
    return { ok: true };
  }

  @Get('public')
  @AllowAnonymous()
  open(): { open: true } {
    return { open: true };
  }
}

/** Handlers that misbehave on purpose, or wait, for the reliability tests. */
@Controller('r')
export class ReliabilityController {
  static gates = new Map<string, () => void>();

  constructor(private readonly sessions: SessionService) {}

  /** Sets the body's keys, then waits for the test to open the gate before answering. */
  @Post('set-slow/:gate')
  @HttpCode(200)
  async setSlow(@Param('gate') gate: string, @Body() body: Partial<SessionData>): Promise<{ id: string }> {
    const id = this.sessions.id;
    for (const [key, value] of Object.entries(body)) this.sessions.set(key as SessionKey, value);
    await new Promise<void>((resolve) => ReliabilityController.gates.set(gate, resolve));
    return { id };
  }

  /** Puts a value JSON cannot hold into the session. */
  @Post('poison/:kind')
  @HttpCode(200)
  poison(@Param('kind') kind: string, @Session() session: Record<string, unknown>): { ok: true } {
    session.a = kind === 'bigint' ? BigInt(1) : circular();
    return { ok: true };
  }

  /** The same, answering through the raw response itself: the module's check at `res.end` must still catch it. */
  @Post('poison-raw')
  poisonRaw(@Session() session: Record<string, unknown>, @Res() res: Response): void {
    session.a = circular();
    res.status(200).json({ ok: true });
  }

  /** Adds one to the session's counter and says whose session it is. */
  @Post('increment')
  @HttpCode(200)
  increment(@Session() session: Partial<SessionData>): { userId: unknown; counter: number } {
    session.counter = (session.counter ?? 0) + 1;
    return { userId: session.userId, counter: session.counter };
  }
}

function circular(): object {
  const value: Record<string, unknown> = { name: 'loop' };
  value.self = value;
  return value;
}

/** Opens a gate a handler waits on, once the handler has reached it. */
export async function openGate(gates: Map<string, () => void>, name: string): Promise<void> {
  for (let i = 0; i < 500 && !gates.has(name); i++) await sleep(10);
  const open = gates.get(name);
  if (!open) throw new Error(`no handler reached gate ${name}`);
  gates.delete(name);
  open();
}
