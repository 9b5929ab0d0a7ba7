import { Inject, Module, RequestMethod } from '@nestjs/common';
import type { MiddlewareConsumer, NestModule, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost, ModulesContainer } from '@nestjs/core';
import { AuthenticatedGuard } from './authenticated.guard.js';
import {
  SESSION_CONTEXT_SWITCH,
  SESSION_MODULE_OPTIONS,
  SESSION_RAW_OPTIONS,
  SESSION_RUNTIME,
} from './session.constants.js';
import { ConfigurableModuleClass } from './session.module-definition.js';
import { createSessionRuntime } from './middleware/session-runtime.js';
import type { SessionRuntime } from './middleware/session-runtime.js';
import type { ContextSwitch } from './middleware/request-context.js';
import { resolveOptions } from './resolve-options.js';
import type { ResolvedSessionModuleOptions } from './resolve-options.js';
import { closeOwnedStore } from './stores/owned-stores.js';
import { SessionService } from './session.service.js';
import { SessionHealthIndicator } from './session.health.js';
import { SessionRegistry } from './session.registry.js';
import { findDependant } from './middleware/dependant-scan.js';
import { CsrfGuard } from './forms/csrf.guard.js';

/**
 * Configures express-session through Nest's dependency injection and mounts it.
 * `SessionModule.forRoot(options)` or `SessionModule.forRootAsync({ imports, inject, useFactory | useClass | useExisting })`;
 * global unless `isGlobal: false`.
 */
@Module({
  providers: [
    { provide: SESSION_MODULE_OPTIONS, useFactory: resolveOptions, inject: [SESSION_RAW_OPTIONS] },
    { provide: SESSION_CONTEXT_SWITCH, useFactory: (): ContextSwitch => ({ enabled: false }) },
    {
      provide: SESSION_RUNTIME,
      useFactory: createSessionRuntime,
      inject: [SESSION_MODULE_OPTIONS, SESSION_CONTEXT_SWITCH],
    },
    SessionService,
    AuthenticatedGuard,
    SessionHealthIndicator,
    CsrfGuard,
    SessionRegistry,
  ],
  // The switch is exported for subclasses of SessionService provided in the app's own modules.
  exports: [
    SESSION_MODULE_OPTIONS,
    SESSION_CONTEXT_SWITCH,
    SessionService,
    AuthenticatedGuard,
    SessionHealthIndicator,
    CsrfGuard,
    SessionRegistry,
  ],
})
export class SessionModule extends ConfigurableModuleClass implements NestModule, OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(SESSION_MODULE_OPTIONS) private readonly options: ResolvedSessionModuleOptions,
    @Inject(SESSION_RUNTIME) private readonly runtime: SessionRuntime,
    @Inject(SESSION_CONTEXT_SWITCH) private readonly context: ContextSwitch,
    private readonly adapterHost: HttpAdapterHost,
    private readonly modules: ModulesContainer,
  ) {
    super();
  }

  configure(consumer: MiddlewareConsumer): void {
    const adapter = this.adapterHost.httpAdapter;
    const type = adapter?.getType?.();
    if (type !== 'express') {
      throw new Error(
        `SessionModule needs the Express platform (@nestjs/platform-express); this app runs on '${String(type)}'. ` +
          'express-session cannot run on Fastify: use @fastify/session there.',
      );
    }
    const { forRoutes, exclude } = this.options;
    if (!forRoutes?.length && !exclude?.length) {
      // Mounted once at the adapter: after Nest's body parsers, before every route, and cheaper than
      // route-matched middleware. It covers every path, `/` and the global-prefix root included.
      adapter.use(this.runtime.middleware);
      return;
    }
    // The context is opened for every route, so that SessionService can tell an excluded route
    // ("this route has no session") from a call outside any request.
    adapter.use(this.runtime.openContext);
    const proxy = consumer.apply(this.runtime.sessionOnly);
    const routes = forRoutes?.length ? forRoutes : [{ path: '{*path}', method: RequestMethod.ALL }];
    (exclude?.length ? proxy.exclude(...exclude) : proxy).forRoutes(...routes);
  }

  /**
   * Opens the request context for SessionService only if something in the app injects it: the context
   * costs every request (Node 20 turns on promise hooks for it), and an app that never uses the service
   * should not pay. Runs after every module's `configure()`, so middleware classes are seen too.
   */
  onModuleInit(): void {
    this.context.enabled = findDependant(this.modules, SessionService) !== undefined;
  }

  async onApplicationShutdown(): Promise<void> {
    await closeOwnedStore(this.options.session.store);
  }
}
