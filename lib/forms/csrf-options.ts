import type { CsrfOptions } from '../interfaces/csrf-options.interface.js';

/** The CSRF options with their defaults, origins normalised (internal). */
export interface ResolvedCsrfOptions {
  /** The trusted origins, as browsers write them in `Origin`. */
  trustedOrigins: ReadonlySet<string>;
  /** The token's request header, lower case. */
  header: string;
  /** The token's body field. */
  field: string;
}

/** Default request header of the CSRF token. */
const DEFAULT_CSRF_HEADER = 'x-csrf-token';
/** Default body field of the CSRF token. */
const DEFAULT_CSRF_FIELD = '_csrf';

/** An origin as browsers send it in `Origin` (lower case, no default port, no path), or undefined if it is none. */
export function normaliseOrigin(value: string): string | undefined {
  try {
    const origin = new URL(value).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

/** Checks the `csrf` option and fills in its defaults; a wrong option fails at boot with a message that says which. */
export function resolveCsrfOptions(options: CsrfOptions | undefined): ResolvedCsrfOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new Error('SessionModule: options.csrf must be an object ({ trustedOrigins?, header?, field? }).');
  }
  const { trustedOrigins = [], header = DEFAULT_CSRF_HEADER, field = DEFAULT_CSRF_FIELD } = options ?? {};
  if (!Array.isArray(trustedOrigins)) {
    throw new Error('SessionModule: options.csrf.trustedOrigins must be an array of origins (https://host[:port]).');
  }
  const origins = new Set<string>();
  for (const value of trustedOrigins) {
    const origin = typeof value === 'string' ? originOnly(value) : undefined;
    if (!origin) {
      throw new Error(
        `SessionModule: options.csrf.trustedOrigins holds ${JSON.stringify(value)}, which is not an origin ` +
          '(http or https, host and port only, such as https://admin.example.com).',
      );
    }
    origins.add(origin);
  }
  for (const [key, value] of [
    ['header', header],
    ['field', field],
  ] as const) {
    if (
      typeof value !== 'string' ||
      value.trim() === '' ||
      (key === 'header' && !/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(value))
    ) {
      throw new Error(
        `SessionModule: options.csrf.${key} must be a non-empty ${key} name, not ${JSON.stringify(value)}.`,
      );
    }
  }
  return { trustedOrigins: origins, header: header.toLowerCase(), field };
}

/** The origin a configured value names, or undefined when it is more (a path, a query) or less than an origin. */
function originOnly(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username || url.password || url.search || url.hash || url.pathname !== '/') return undefined;
  return url.origin;
}
