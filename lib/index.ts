import './session-data.js';
export * from './interfaces/index.js';
export { SESSION_MODULE_OPTIONS } from './session.constants.js';
export { SessionModule } from './session.module.js';
export { SessionService } from './session.service.js';
export type { RegenerateOptions, SessionKey } from './session.service.js';
export { Session } from './session.decorator.js';
export { AuthenticatedGuard, AllowAnonymous } from './authenticated.guard.js';
export { whenSessionLoaded } from './session-loaded.util.js';
export { SessionHealthIndicator } from './session.health.js';
export type { SessionHealthOptions, SessionHealthResult } from './session.health.js';
export { EmbeddedStore } from './stores/embedded-store.js';
export { STORE_UNAVAILABLE_MESSAGE } from './session.errors.js';
export { redisStore, RedisSessionStore } from './stores/redis-store.js';
export type {
  RedisClientLike,
  RedisStoreOptions,
  RedisStoreSettings,
  RedisUrlStoreOptions,
  RedisClientStoreOptions,
} from './stores/redis-store.js';
export { postgresStore, PostgresSessionStore } from './stores/postgres-store.js';
export type {
  PgPoolLike,
  PostgresStoreOptions,
  PostgresStoreSettings,
  PostgresUrlStoreOptions,
  PostgresPoolStoreOptions,
} from './stores/postgres-store.js';
