import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger, Module } from '@nestjs/common';
import type { Store } from 'express-session';
import { SessionModule, postgresStore, redisStore, sqliteStore } from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import { AppController } from './app.controller.js';
import { PagesController } from './pages.controller.js';
import { SessionsController } from './sessions.controller.js';
import { UsersService } from './users.service.js';

const DEV_SECRET = 'development-only-secret-change-me-0123456789';
/** Where SESSION_STORE=sqlite keeps sessions unless SQLITE_PATH says otherwise: sample/data/ (git-ignored). */
export const DEFAULT_SQLITE_PATH = fileURLToPath(new URL('../../sample/data/sessions.db', import.meta.url));

/**
 * The store, from the environment: SQLite with SESSION_STORE=sqlite (in SQLITE_PATH, by default
 * sample/data/sessions.db), Redis with REDIS_URL, PostgreSQL with DATABASE_URL (Redis wins if both are set),
 * else the module's embedded in-memory store. Stores the module made are closed by app.close().
 */
export function sessionStore(): Store | undefined {
  const logger = new Logger('Sample');
  const { SESSION_STORE, SQLITE_PATH, REDIS_URL, DATABASE_URL } = process.env;
  if (SESSION_STORE && SESSION_STORE !== 'sqlite') {
    throw new Error(`SESSION_STORE=${SESSION_STORE} is not a store the sample knows: set it to sqlite, or unset it`);
  }
  if (SESSION_STORE === 'sqlite') {
    const path = SQLITE_PATH || DEFAULT_SQLITE_PATH;
    if (!process.getBuiltinModule?.('node:sqlite')) {
      throw new Error(
        `SESSION_STORE=sqlite needs Node.js 22.5 or later (node:sqlite); this is Node.js ${process.versions.node}. ` +
          'Upgrade Node.js, or unset SESSION_STORE.',
      );
    }
    mkdirSync(dirname(path), { recursive: true });
    logger.log(`Sessions are kept in SQLite in ${path}: they survive a restart of the app`);
    return sqliteStore({ path });
  }
  if (REDIS_URL) {
    logger.log(`Sessions are kept in Redis at ${hostOf(REDIS_URL)}`);
    return redisStore({ url: REDIS_URL });
  }
  if (DATABASE_URL) {
    logger.log(`Sessions are kept in PostgreSQL at ${hostOf(DATABASE_URL)} (table "session", created on first use)`);
    return postgresStore({ connectionString: DATABASE_URL });
  }
  logger.log(
    'Sessions are kept in memory (embedded store); set REDIS_URL or DATABASE_URL to share them between instances, SESSION_STORE=sqlite to keep them across restarts',
  );
  return undefined;
}

/** host:port of a URL, never its credentials. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(unparsable URL)';
  }
}

/** The sample's session options: secret from SESSION_SECRET, the store from {@link sessionStore}. */
export function sessionOptions(): SessionModuleOptions {
  const secret = process.env.SESSION_SECRET;
  if (!secret) {
    new Logger('Sample').warn(
      '!!! SESSION_SECRET is not set: using a built-in development secret. Never run like this in production. !!!',
    );
  }
  return {
    session: {
      secret: secret ? secret.split(',') : DEV_SECRET,
      name: 'sample.sid',
      cookie: { maxAge: 60 * 60 * 1000 },
      store: sessionStore(),
    },
    // A read-only request extends the session's expiry in the store at most once a minute.
    touchAfter: 60 * 1000,
  };
}

@Module({
  imports: [SessionModule.forRootAsync({ useFactory: sessionOptions })],
  controllers: [AppController, PagesController, SessionsController],
  providers: [UsersService],
})
export class AppModule {}
