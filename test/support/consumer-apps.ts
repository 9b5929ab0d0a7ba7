/** The throwaway consumer apps of the package test: their package.json, a JS app and a TS consumer. */

/** The package's entry points (its `exports` besides package.json), as users import them. */
export const ENTRY_POINTS: Record<string, string> = {
  'nest-express-session': 'index.js',
  'nest-express-session/socket.io': 'session-io.adapter.js',
};

export const SECRET = 'package-test-secret-0123456789-abcdefghijklmnop';

/** One throwaway consumer app. */
export interface Variant {
  name: string;
  /** Folder name under the temp root. */
  dir: string;
  /** Major version of Nest installed. */
  nest: 11 | 12;
  esm: boolean;
  /** The build of this package the app must load. */
  build: 'esm' | 'cjs';
}

export const VARIANTS: Variant[] = [
  { name: 'Nest 12 ESM app', dir: 'nest12-esm', nest: 12, esm: true, build: 'esm' },
  { name: 'Nest 11 CommonJS app', dir: 'nest11-cjs', nest: 11, esm: false, build: 'cjs' },
];

export function appPackageJson(variant: Variant, tarball: string): string {
  const nest = `^${variant.nest}.0.0`;
  return (
    JSON.stringify(
      {
        name: `nest-express-session-${variant.dir}`,
        private: true,
        version: '0.0.0',
        ...(variant.esm ? { type: 'module' } : {}),
        dependencies: {
          '@nestjs/common': nest,
          '@nestjs/core': nest,
          '@nestjs/platform-express': nest,
          'express-session': '^1.18.0',
          'nest-express-session': `file:${tarball}`,
          'reflect-metadata': '^0.2.0',
          rxjs: '^7.8.0',
        },
        devDependencies: {
          '@types/express': '^5.0.0',
          '@types/express-session': '^1.18.0',
          '@types/node': '^20.19.0',
        },
      },
      null,
      2,
    ) + '\n'
  );
}

/**
 * A tiny Nest app in plain JavaScript, decorators applied by hand. It prints one JSON line on stdout:
 * its URL and the files the package's entry points resolve to.
 */
export function appSource(variant: Variant): string {
  const entries = JSON.stringify(Object.keys(ENTRY_POINTS));
  const head = variant.esm
    ? `import 'reflect-metadata';
import { Body, Controller, Get, HttpCode, Module, Post, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AuthenticatedGuard, Session, SessionModule, SessionService } from 'nest-express-session';
const resolved = Object.fromEntries(${entries}.map((entry) => [entry, import.meta.resolve(entry)]));
`
    : `'use strict';
require('reflect-metadata');
const { Body, Controller, Get, HttpCode, Module, Post, UseGuards } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { AuthenticatedGuard, Session, SessionModule, SessionService } = require('nest-express-session');
const resolved = Object.fromEntries(${entries}.map((entry) => [entry, require.resolve(entry)]));
`;
  // The CommonJS app also imports the ESM build (as an ESM dependency of a CJS app would): its guard and
  // decorator must work with the CJS build's module, through the tokens and context both builds share.
  const otherBuild = variant.esm
    ? `async function otherBuildControllers() {
  return [];
}
`
    : `async function otherBuildControllers() {
  const esm = await import('nest-express-session');
  if (esm.SessionModule === SessionModule) throw new Error('import() gave the CommonJS build');
  class OtherBuildController {
    me(userId) {
      return { userId };
    }
  }
  esm.Session('userId')(OtherBuildController.prototype, 'me', 0);
  decorate(OtherBuildController, 'me', Get('me-esm'), UseGuards(esm.AuthenticatedGuard));
  Controller()(OtherBuildController);
  return [OtherBuildController];
}
`;
  return `${head}
/** Applies method decorators as TypeScript would (the last one listed runs first). */
function decorate(target, name, ...decorators) {
  const descriptor = Object.getOwnPropertyDescriptor(target.prototype, name);
  for (const decorator of decorators.reverse()) decorator(target.prototype, name, descriptor);
}

class AuthController {
  constructor(sessions) {
    this.sessions = sessions;
  }
  async login(body) {
    await this.sessions.logIn(body.userId, { verified: body.verified === true });
    return { id: this.sessions.id };
  }
  me(userId, session) {
    return { userId, sessionId: session.id };
  }
  async logout() {
    await this.sessions.logOut();
    return { loggedOut: true };
  }
}
// What emitDecoratorMetadata would write: constructor injection by type.
Reflect.defineMetadata('design:paramtypes', [SessionService], AuthController);
Body()(AuthController.prototype, 'login', 0);
decorate(AuthController, 'login', Post('login'), HttpCode(200));
Session('userId')(AuthController.prototype, 'me', 0);
Session()(AuthController.prototype, 'me', 1);
decorate(AuthController, 'me', Get('me'), UseGuards(AuthenticatedGuard));
decorate(AuthController, 'logout', Post('logout'), HttpCode(200));
Controller()(AuthController);

${otherBuild}
async function main() {
  class AppModule {}
  Module({
    imports: [
      SessionModule.forRoot({
        session: { secret: ${JSON.stringify(SECRET)} },
        isAuthenticated: (session) => session.verified === true,
      }),
    ],
    controllers: [AuthController, ...(await otherBuildControllers())],
  })(AppModule);
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address();
  process.stdout.write(JSON.stringify({ url: 'http://127.0.0.1:' + port, resolved }) + '\\n');
  const stop = () => app.close().then(() => process.exit(0), () => process.exit(1));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
`;
}

/** A TypeScript consumer of the installed package; it is only type-checked. */
export const CONSUMER_TS = `import 'reflect-metadata';
import { Body, Controller, Get, HttpCode, Inject, Injectable, Module, Post, UseGuards } from '@nestjs/common';
import {
  AllowAnonymous,
  AuthenticatedGuard,
  Session,
  SESSION_MODULE_OPTIONS,
  SessionModule,
  SessionService,
} from 'nest-express-session';
import type { SessionModuleOptions, SessionOptionsFactory } from 'nest-express-session';

declare module 'express-session' {
  interface SessionData {
    cart: string[];
  }
}

@Controller()
@UseGuards(AuthenticatedGuard)
export class ShopController {
  constructor(
    private readonly sessions: SessionService,
    @Inject(SESSION_MODULE_OPTIONS) private readonly options: SessionModuleOptions,
  ) {}

  @Post('login')
  @HttpCode(200)
  @AllowAnonymous()
  async login(@Body() body: { userId: string }): Promise<{ id: string }> {
    await this.sessions.logIn(body.userId, { cart: [] });
    return { id: this.sessions.id };
  }

  @Get('me')
  me(
    @Session('userId') userId: string | number | undefined,
    @Session('cart') cart: string[] | undefined,
    @Session() session: { id: string },
  ): { userId: string | number | null; items: number; sid: string } {
    return { userId: userId ?? null, items: cart?.length ?? 0, sid: session.id };
  }

  @Post('cart')
  add(@Body() body: { item: string }): string[] {
    const cart: string[] = [...(this.sessions.get('cart') ?? []), body.item];
    this.sessions.set('cart', cart);
    const id: string | number | undefined = this.sessions.get('userId');
    // @ts-expect-error userId is a string or a number, never a boolean
    const wrong: boolean = this.sessions.get('userId');
    // @ts-expect-error cart holds strings
    this.sessions.set('cart', 42);
    void id;
    void wrong;
    void this.options.session.secret;
    return cart;
  }

  @Get('wrong')
  wrong(
    // @ts-expect-error 'notAKey' is not a SessionData key
    @Session('notAKey') value: unknown,
  ): unknown {
    return value;
  }

  @Post('logout')
  async logout(): Promise<void> {
    await this.sessions.logOut();
  }
}

@Injectable()
class SessionConfig implements SessionOptionsFactory {
  createSessionOptions(): SessionModuleOptions {
    return { session: { secret: 'a-long-secret-from-the-environment-0123456789' }, retries: 1 };
  }
}

@Module({
  imports: [SessionModule.forRootAsync({ useClass: SessionConfig, isGlobal: true })],
  controllers: [ShopController],
})
export class AppModule {}

@Module({ imports: [SessionModule.forRoot({ session: { secret: 'x'.repeat(40) }, isGlobal: false })] })
export class SyncModule {}

// @ts-expect-error the express-session options are required
SessionModule.forRoot({});
`;

export const CONSUMER_TSCONFIG = JSON.stringify(
  {
    compilerOptions: {
      target: 'es2022',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      lib: ['es2023'],
      types: ['node'],
      strict: true,
      noEmit: true,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      esModuleInterop: true,
      skipLibCheck: true,
    },
    files: ['consumer.ts'],
  },
  null,
  2,
);
