/** What the runner needs to know about one benchmark variant (the server builds the app itself). */
export interface VariantInfo {
  /** Name passed to `bench/server.ts`. */
  name: string;
  /** One line for the table. */
  label: string;
  /** Path autocannon requests. */
  path: string;
  /** Each connection sends its own session cookie, made before measuring (false: no cookie at all). */
  cookie: boolean;
  /** Needs a Redis server (its URL is passed to the server). */
  redis: boolean;
  /** Not measured yet; shown as pending. */
  pending?: string;
}

/** Every variant, in the order they are measured within a round. */
export const VARIANTS: VariantInfo[] = [
  // Pairs that are compared stand next to each other, so that a burst of load on the machine is less likely
  // to hit one side of a ratio and not the other.
  { name: 'none', label: 'no session', path: '/', cookie: false, redis: false },
  { name: 'raw', label: 'raw app.use(session()) in main', path: '/', cookie: true, redis: false },
  { name: 'module', label: 'SessionModule, default mount, @Session()', path: '/', cookie: true, redis: false },
  { name: 'service', label: 'SessionModule, handler through SessionService', path: '/', cookie: true, redis: false },
  { name: 'nestjs-session', label: 'nestjs-session 3 (comparison)', path: '/', cookie: true, redis: false },
  { name: 'module-forroutes', label: "SessionModule, forRoutes('{*path}')", path: '/', cookie: true, redis: false },
  { name: 'new-session', label: 'SessionModule, new session per request', path: '/', cookie: false, redis: false },
  { name: 'raw-guard', label: 'raw app.use + one global no-op guard', path: '/', cookie: true, redis: false },
  {
    name: 'raw-interceptor',
    label: 'raw app.use + one global no-op interceptor',
    path: '/',
    cookie: true,
    redis: false,
  },
  { name: 'redis-raw', label: 'Redis: raw app.use + connect-redis', path: '/', cookie: true, redis: true },
  { name: 'redis-module', label: 'Redis: SessionModule + redisStore()', path: '/', cookie: true, redis: true },
  { name: 'redis-raw-read', label: 'Redis: raw, read-only request', path: '/read', cookie: true, redis: true },
  {
    name: 'redis-module-read',
    label: 'Redis: SessionModule + redisStore(), read-only request',
    path: '/read',
    cookie: true,
    redis: true,
  },
  {
    name: 'redis-touchafter-read',
    label: 'Redis: SessionModule + redisStore() + touchAfter, read-only request',
    path: '/read',
    cookie: true,
    redis: true,
  },
];

/** A ratio the runner reports: `num` over `den`, with the target where the issue sets one. */
export interface RatioSpec {
  num: string;
  den: string;
  meaning: string;
  /** req/s ratio the target asks for (at least). */
  target?: number;
}

export const RATIOS: RatioSpec[] = [
  { num: 'module', den: 'raw', meaning: 'module default mount / raw app.use', target: 0.98 },
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
  { num: 'redis-module', den: 'redis-raw', meaning: 'Redis: module / raw' },
  { num: 'redis-module-read', den: 'redis-raw-read', meaning: 'Redis read-only: module / raw' },
  {
    num: 'redis-touchafter-read',
    den: 'redis-module-read',
    meaning: 'Redis read-only: touchAfter / without',
    target: 1.0,
  },
];
