/** A store server a variant needs; the runner starts one of each kind and passes its URL to the server. */
export type Backend = 'redis' | 'postgres';

/** What the runner needs to know about one benchmark variant (the server builds the app itself). */
export interface VariantInfo {
  /** Name in the tables and in `--only`. */
  name: string;
  /** One line for the table. */
  label: string;
  /** The app `bench/server.ts` builds (default: `name`); the hot-session variants reuse the apps of the others. */
  server?: string;
  /** Path autocannon requests (hot: `<path>/<connection>`, a key of its own per connection). */
  path: string;
  /** Each connection sends a session cookie, made before measuring (false: no cookie at all). */
  cookie: boolean;
  /** Every connection sends the same cookie: one session written by all of them at once. */
  hot?: boolean;
  /** Needs a Redis or PostgreSQL server (its URL is passed to the server). */
  backend?: Backend;
  /** Not measured yet; shown as pending. */
  pending?: string;
}

/** The hot-session scenario on `server`'s app: all connections on one cookie, each writing its own key. */
function hot(server: string, label: string, backend?: Backend): VariantInfo {
  return {
    name: `hot-${server}`,
    server,
    label: `hot session: ${label}`,
    path: '/hot',
    cookie: true,
    hot: true,
    backend,
  };
}

/** Every variant, in the order they are measured within a round. */
export const VARIANTS: VariantInfo[] = [
  // Pairs that are compared stand next to each other, so that a burst of load on the machine is less likely
  // to hit one side of a ratio and not the other.
  { name: 'none', label: 'no session', path: '/', cookie: false },
  { name: 'raw', label: 'raw app.use(session()) in main, MemoryStore', path: '/', cookie: true },
  { name: 'module', label: 'SessionModule, default mount, @Session(), embedded store', path: '/', cookie: true },
  { name: 'module-memorystore', label: 'SessionModule on MemoryStore', path: '/', cookie: true },
  { name: 'service', label: 'SessionModule, handler through SessionService', path: '/', cookie: true },
  { name: 'nestjs-session', label: 'nestjs-session 3, MemoryStore (comparison)', path: '/', cookie: true },
  { name: 'module-forroutes', label: "SessionModule, forRoutes('{*path}')", path: '/', cookie: true },
  { name: 'new-session', label: 'SessionModule, new session per request', path: '/', cookie: false },
  { name: 'raw-guard', label: 'raw app.use + one global no-op guard', path: '/', cookie: true },
  { name: 'raw-interceptor', label: 'raw app.use + one global no-op interceptor', path: '/', cookie: true },
  hot('raw', 'raw app.use(session()), MemoryStore'),
  hot('module', 'SessionModule, embedded store'),
  hot('module-memorystore', 'SessionModule on MemoryStore'),
  { name: 'redis-raw', label: 'Redis: raw app.use + connect-redis', path: '/', cookie: true, backend: 'redis' },
  { name: 'redis-module', label: 'Redis: SessionModule + redisStore()', path: '/', cookie: true, backend: 'redis' },
  {
    name: 'redis-raw-read',
    server: 'redis-raw',
    label: 'Redis: raw, read-only request',
    path: '/read',
    cookie: true,
    backend: 'redis',
  },
  {
    name: 'redis-module-read',
    server: 'redis-module',
    label: 'Redis: SessionModule + redisStore(), read-only request',
    path: '/read',
    cookie: true,
    backend: 'redis',
  },
  {
    name: 'redis-touchafter-read',
    label: 'Redis: SessionModule + redisStore() + touchAfter, read-only request',
    path: '/read',
    cookie: true,
    backend: 'redis',
  },
  hot('redis-raw', 'Redis: raw app.use + connect-redis', 'redis'),
  hot('redis-module', 'Redis: SessionModule + redisStore()', 'redis'),
  {
    name: 'pg-raw',
    label: 'PostgreSQL: raw app.use + connect-pg-simple',
    path: '/',
    cookie: true,
    backend: 'postgres',
  },
  {
    name: 'pg-module',
    label: 'PostgreSQL: SessionModule + postgresStore()',
    path: '/',
    cookie: true,
    backend: 'postgres',
  },
  hot('pg-raw', 'PostgreSQL: raw app.use + connect-pg-simple', 'postgres'),
  hot('pg-module', 'PostgreSQL: SessionModule + postgresStore()', 'postgres'),
];

/** A ratio the runner reports: `num` over `den`, with the targets where the issue sets them. */
export interface RatioSpec {
  num: string;
  den: string;
  meaning: string;
  /** req/s ratio the target asks for (at least, or above with `strict`). */
  target?: number;
  /** CPU/req ratio the target asks for (den's CPU per request over num's: at least this much cheaper). */
  cpuTarget?: number;
  /** The targets ask for strictly more than their value. */
  strict?: boolean;
}

export const RATIOS: RatioSpec[] = [
  {
    num: 'module',
    den: 'raw',
    meaning: 'module on its default store / raw app.use on MemoryStore',
    target: 1,
    cpuTarget: 1,
  },
  {
    num: 'hot-module',
    den: 'hot-raw',
    meaning: 'hot session: module on its default store / raw on MemoryStore',
    target: 1,
    cpuTarget: 1,
  },
  { num: 'module-memorystore', den: 'raw', meaning: 'module on MemoryStore / raw on MemoryStore' },
  { num: 'module', den: 'module-memorystore', meaning: 'module: embedded store / MemoryStore' },
  { num: 'hot-module-memorystore', den: 'hot-raw', meaning: 'hot session: module on MemoryStore / raw' },
  { num: 'module', den: 'nestjs-session', meaning: 'module / nestjs-session', target: 1.03 },
  { num: 'service', den: 'module', meaning: 'SessionService path / @Session() path', target: 0.95 },
  { num: 'module-forroutes', den: 'module', meaning: 'forRoutes mount / default mount' },
  { num: 'module-forroutes', den: 'nestjs-session', meaning: 'forRoutes mount / nestjs-session' },
  { num: 'raw-guard', den: 'raw', meaning: 'one app-wide guard / none (reference; the module registers none)' },
  {
    num: 'raw-interceptor',
    den: 'raw',
    meaning: 'one app-wide interceptor / none (reference; the module registers none)',
  },
  { num: 'raw', den: 'none', meaning: 'raw express-session / no session' },
  { num: 'module', den: 'none', meaning: 'module / no session' },
  { num: 'new-session', den: 'module', meaning: 'new session per request / existing session' },
  { num: 'redis-module', den: 'redis-raw', meaning: 'Redis, changed request: module / raw connect-redis', target: 1 },
  { num: 'redis-module-read', den: 'redis-raw-read', meaning: 'Redis read-only: module / raw' },
  {
    num: 'redis-touchafter-read',
    den: 'redis-module-read',
    meaning: 'Redis read-only: touchAfter / without',
    target: 1,
    strict: true,
  },
  { num: 'hot-redis-module', den: 'hot-redis-raw', meaning: 'Redis, hot session: module / raw connect-redis' },
  { num: 'pg-module', den: 'pg-raw', meaning: 'PostgreSQL, changed request: module / raw connect-pg-simple' },
  { num: 'hot-pg-module', den: 'hot-pg-raw', meaning: 'PostgreSQL, hot session: module / raw connect-pg-simple' },
];

/** What a count target is about: store round trips or Redis commands per request, or failed requests. */
export type CountMetric = 'roundTrips' | 'redisCommands' | 'non2xx';

/** A target on a count of one variant (deterministic, unlike the ratios): at most `max`. */
export interface CountTarget {
  variant: string;
  metric: CountMetric;
  max: number;
  meaning: string;
}

/** The module's variants on the stores it ships (changed-key writes): one read and one write per change. */
const MODULE_WRITES = ['module', 'hot-module', 'redis-module', 'hot-redis-module', 'pg-module', 'hot-pg-module'];
/** Every variant of the module whose requests must all answer 2xx, whatever the contention. */
const MODULE_VARIANTS = [...MODULE_WRITES, 'module-memorystore', 'hot-module-memorystore'];

export const COUNT_TARGETS: CountTarget[] = [
  ...MODULE_WRITES.map((variant): CountTarget => ({
    variant,
    metric: 'roundTrips',
    max: 2,
    meaning: 'store round trips per changed request',
  })),
  ...MODULE_VARIANTS.map((variant): CountTarget => ({
    variant,
    metric: 'non2xx',
    max: 0,
    meaning: 'non-2xx responses',
  })),
  {
    variant: 'redis-touchafter-read',
    metric: 'redisCommands',
    max: 1,
    meaning: 'Redis commands per read-only request with touchAfter',
  },
  {
    variant: 'redis-touchafter-read',
    metric: 'roundTrips',
    max: 1,
    meaning: 'Redis round trips per read-only request with touchAfter',
  },
];
