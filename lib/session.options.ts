import { Logger } from '@nestjs/common';
import type { Request } from 'express';
import { MemoryStore } from 'express-session';
import type { CookieOptions, SessionOptions, Store } from 'express-session';
import { DEFAULT_STORE_TIMEOUT } from './session.constants.js';
import type { RequestSession, SessionModuleOptions } from './interfaces/index.js';
import { EmbeddedStore } from './stores/embedded-store.js';

/** The options after defaults were merged: what `SESSION_MODULE_OPTIONS` holds. */
export interface ResolvedSessionModuleOptions extends SessionModuleOptions {
  session: SessionOptions & { store: Store };
  isAuthenticated: NonNullable<SessionModuleOptions['isAuthenticated']>;
  retries: number;
  retriesStrategy: (attempt: number) => number;
  storeTimeout: number;
  touchAfter: number;
}

const SAMPLE_SECRETS = new Set([
  'keyboard cat',
  'secret',
  'changeme',
  'change-me',
  'session-secret',
  'my-secret',
  'mysecret',
  'password',
]);
const MIN_SECRET_LENGTH = 32;
const logger = new Logger('SessionModule');
/** Stores the module created itself, with how to close them; a user's store is never closed. */
const ownedStores = new WeakMap<Store, () => unknown>();

/** Registers a store the module created, so that app.close() closes it (internal). */
export function ownStore(store: Store, close: () => unknown): void {
  ownedStores.set(store, close);
}

/** Closes the store if the module created it (internal). */
export async function closeOwnedStore(store: Store): Promise<void> {
  const close = ownedStores.get(store);
  ownedStores.delete(store);
  await close?.();
}

/** The default login check: `session.userId` is set, or Passport says the request is authenticated. */
export function defaultIsAuthenticated(session: RequestSession | undefined, request: Request): boolean {
  if (session?.userId != null) return true;
  const passportCheck = (request as { isAuthenticated?: () => boolean }).isAuthenticated;
  return typeof passportCheck === 'function' && passportCheck.call(request) === true;
}

/** Merges the defaults under the user's options and refuses configurations that cannot work. */
export function resolveOptions(options: SessionModuleOptions): ResolvedSessionModuleOptions {
  if (!options || typeof options !== 'object' || !options.session || typeof options.session !== 'object') {
    throw new Error('SessionModule: options.session is required (express-session options, with at least a secret).');
  }
  const user = options.session;
  const secrets = Array.isArray(user.secret) ? user.secret : [user.secret];
  if (secrets.length === 0 || secrets.some((s) => s == null || String(s).length === 0)) {
    throw new Error(
      'SessionModule: options.session.secret is required: a long random string, or an array [newest, ...older] to rotate.',
    );
  }
  const retries = options.retries ?? 0;
  if (!Number.isInteger(retries) || retries < 0) {
    throw new Error(`SessionModule: options.retries must be a whole number of 0 or more, not ${String(retries)}.`);
  }
  for (const key of ['storeTimeout', 'touchAfter', 'idleTimeout', 'absoluteTimeout'] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value))) {
      throw new Error(
        `SessionModule: options.${key} must be a number of milliseconds (0 or more), not ${String(value)}.`,
      );
    }
  }
  const store = user.store ?? createEmbeddedStore(options);
  const session: ResolvedSessionModuleOptions['session'] = {
    resave: false,
    saveUninitialized: false,
    ...user,
    cookie: mergeCookie(user.cookie),
    store,
  };
  const maxAge = typeof session.cookie === 'object' ? session.cookie.maxAge : undefined;
  if (options.touchAfter && maxAge !== undefined && options.touchAfter >= maxAge) {
    throw new Error(
      `SessionModule: touchAfter (${options.touchAfter} ms) must be shorter than session.cookie.maxAge (${maxAge} ms), ` +
        'or a session in use could expire between two touches.',
    );
  }
  checkProduction(session, options);
  return {
    ...options,
    session,
    isAuthenticated: options.isAuthenticated ?? defaultIsAuthenticated,
    retries,
    retriesStrategy: options.retriesStrategy ?? (() => 0),
    storeTimeout: options.storeTimeout ?? DEFAULT_STORE_TIMEOUT,
    touchAfter: options.touchAfter ?? 0,
  };
}

const COOKIE_DEFAULTS: CookieOptions = { httpOnly: true, sameSite: 'lax' };

function mergeCookie(cookie: SessionOptions['cookie']): SessionOptions['cookie'] {
  if (typeof cookie === 'function') return (req: Request) => ({ ...COOKIE_DEFAULTS, ...cookie(req) });
  return { ...COOKIE_DEFAULTS, ...cookie };
}

/** R5: in production, refuse at boot what would leak sessions or emit cookies browsers reject. */
function checkProduction(session: ResolvedSessionModuleOptions['session'], options: SessionModuleOptions): void {
  if (process.env.NODE_ENV !== 'production') return;
  const problems: string[] = [];
  const secrets = Array.isArray(session.secret) ? session.secret : [session.secret];
  for (const secret of secrets) {
    const text = String(secret);
    if (SAMPLE_SECRETS.has(text.toLowerCase())) {
      problems.push('session.secret is a well-known sample value; use a long random string from the environment');
    } else if (text.length < MIN_SECRET_LENGTH) {
      problems.push(`session.secret is shorter than ${MIN_SECRET_LENGTH} characters; use a long random string`);
    }
  }
  if (session.store instanceof MemoryStore) {
    problems.push(
      "session.store is express-session's MemoryStore, which leaks memory; omit store (embedded store) or use Redis/PostgreSQL",
    );
  }
  const cookie = typeof session.cookie === 'object' ? session.cookie : undefined;
  const secure = cookie?.secure === true || cookie?.secure === 'auto';
  const name = session.name ?? 'connect.sid';
  if (cookie && name.startsWith('__Host-')) {
    if (cookie.domain) problems.push('a __Host- cookie must not have cookie.domain; remove it');
    if ((cookie.path ?? '/') !== '/') problems.push("a __Host- cookie must have cookie.path '/'");
    if (!secure) problems.push('a __Host- cookie needs cookie.secure: true (or "auto")');
  }
  if (cookie && name.startsWith('__Secure-') && !secure) {
    problems.push('a __Secure- cookie needs cookie.secure: true (or "auto")');
  }
  if (cookie && cookie.sameSite === 'none' && !secure) {
    problems.push("cookie.sameSite 'none' needs cookie.secure: true (browsers reject it otherwise)");
  }
  if (problems.length > 0) {
    throw new Error(`SessionModule refused to start in production:\n- ${problems.join('\n- ')}`);
  }
  if (/(^|[\s,])(express-session|\*)([\s,]|$)/.test(process.env.DEBUG ?? '')) {
    logger.warn(
      "DEBUG enables express-session's debug output, which prints raw session ids and cookies: turn it off in production.",
    );
  }
  if (session.store instanceof EmbeddedStore && !options.embeddedStore?.allowInProduction) {
    logger.warn(
      'Sessions are kept in the embedded in-memory store: they live in this process only and are lost on restart. ' +
        'Use Redis or PostgreSQL for more than one instance, or set embeddedStore.allowInProduction to silence this.',
    );
  }
}

function createEmbeddedStore(options: SessionModuleOptions): EmbeddedStore {
  const store = new EmbeddedStore(options.embeddedStore);
  ownStore(store, () => store.close());
  return store;
}
