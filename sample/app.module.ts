import { Logger, Module } from '@nestjs/common';
import { SessionModule } from 'nest-express-session';
import type { SessionModuleOptions } from 'nest-express-session';
import { AppController } from './app.controller.js';
import { PagesController } from './pages.controller.js';
import { UsersService } from './users.service.js';

const DEV_SECRET = 'development-only-secret-change-me-0123456789';

/** The sample's session options: secret from SESSION_SECRET, the embedded store unless told otherwise. */
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
    },
  };
}

@Module({
  imports: [SessionModule.forRootAsync({ useFactory: sessionOptions })],
  controllers: [AppController, PagesController],
  providers: [UsersService],
})
export class AppModule {}
