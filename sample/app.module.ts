import { Logger, Module } from '@nestjs/common';
import type { Store } from 'express-session';
import { SessionModule, postgresStore, redisStore } from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import { AppController } from './app.controller.js';
import { PagesController } from './pages.controller.js';
import { UsersService } from './users.service.js';

const DEV_SECRET = 'development-only-secret-change-me-0123456789';

/**
 * The store, from the environment: Redis with REDIS_URL, PostgreSQL with DATABASE_URL (Redis wins if both
 * are set), else the module's embedded in-memory store. Stores made from a URL are closed by app.close().
 */
export function sessionStore(): Store | undefined {
  const logger = new Logger('Sample');
  const { REDIS_URL, DATABASE_URL } = process.env;
  if (REDIS_URL) {
    logger.log(`Sessions are kept in Redis at ${hostOf(REDIS_URL)}`);
    return redisStore({ url: REDIS_URL });
  }
  if (DATABASE_URL) {
    logger.log(`Sessions are kept in PostgreSQL at ${hostOf(DATABASE_URL)} (table "session", created on first use)`);
    return postgresStore({ connectionString: DATABASE_URL });
  }
  logger.log(
    'Sessions are kept in memory (embedded store); set REDIS_URL or DATABASE_URL to share them between instances',
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
  controllers: [AppController, PagesController],
  providers: [UsersService],
})
export class AppModule {}
