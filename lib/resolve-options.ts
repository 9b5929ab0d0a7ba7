import type { Request } from 'express';
import type { CookieOptions, SessionOptions, Store } from 'express-session';
import { DEFAULT_STORE_TIMEOUT } from './session.constants.js';
import type { RequestSession, SessionModuleOptions } from './interfaces/index.js';
import { EmbeddedStore } from './stores/embedded-store.js';
import { ownStore } from './stores/owned-stores.js';
import { checkProduction, secretText } from './production-checks.js';
import { resolveCsrfOptions } from './forms/csrf-options.js';
import { checkControlOptions } from './controls/check-controls.js';

/** The options after defaults were merged: what `SESSION_MODULE_OPTIONS` holds. */
export interface ResolvedSessionModuleOptions extends SessionModuleOptions {
  session: SessionOptions & { store: Store };
  isAuthenticated: NonNullable<SessionModuleOptions['isAuthenticated']>;
  retries: number;
  retriesStrategy: (attempt: number) => number;
  storeTimeout: number;
  touchAfter: number;
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
  if (secrets.length === 0 || secrets.some((s) => secretText(s).length === 0)) {
    throw new Error(
      'SessionModule: options.session.secret is required: a long random string, or an array [newest, ...older] to rotate.',
    );
  }
  const retries = options.retries ?? 0;
  if (!Number.isInteger(retries) || retries < 0) {
    throw new Error(`SessionModule: options.retries must be a whole number of 0 or more, not ${String(retries)}.`);
  }
  const maxPending = options.maxPendingStoreCalls;
  if (maxPending !== undefined && (!Number.isInteger(maxPending) || maxPending < 1)) {
    throw new Error(
      `SessionModule: options.maxPendingStoreCalls must be a whole number of 1 or more, not ${String(maxPending)}.`,
    );
  }
  for (const key of ['storeTimeout', 'touchAfter', 'idleTimeout', 'absoluteTimeout'] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value))) {
      throw new Error(
        `SessionModule: options.${key} must be a number of milliseconds (0 or more), not ${String(value)}.`,
      );
    }
  }
  resolveCsrfOptions(options.csrf);
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
  checkControlOptions(options, store);
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

function createEmbeddedStore(options: SessionModuleOptions): EmbeddedStore {
  const store = new EmbeddedStore(options.embeddedStore);
  ownStore(store, () => store.close());
  return store;
}
