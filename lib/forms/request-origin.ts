import type { IncomingHttpHeaders } from 'node:http';
import { normaliseOrigin } from './csrf-options.js';

/** What the origin check reads of a request: Express's `protocol` and `host` (so `trust proxy` applies). */
export interface OriginSource {
  /** The request's headers (`Origin`, `Sec-Fetch-Site`). */
  headers: IncomingHttpHeaders;
  /** `http` or `https`, as Express reports it. */
  protocol: string;
  /** Host and port, as Express reports them. */
  host?: string;
}

/** What the browser's headers say about where a state-changing request comes from. */
type OriginVerdict =
  /** Sec-Fetch-Site same-origin or none, or (without it) an Origin equal to the app's own. */
  | 'same-origin'
  /** The Origin is one of the trusted origins. */
  | 'trusted'
  /** Sec-Fetch-Site cross-site from an untrusted origin. */
  | 'cross-site'
  /** Without Sec-Fetch-Site, an Origin that is neither the app's own nor trusted. */
  | 'other-origin'
  /** Sec-Fetch-Site same-site, or no browser headers at all: only a token can tell. */
  | 'unknown';

/** The app's own origin as this request reaches it: scheme and Host as Express reports them. */
export function ownOrigin(req: OriginSource): string | undefined {
  return req.host ? normaliseOrigin(`${req.protocol}://${req.host}`) : undefined;
}

/** The first value of a request header that may come as a list. */
export function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The browser's word on a request, by its `Sec-Fetch-Site` and `Origin` headers. */
export function originVerdict(req: OriginSource, trusted: ReadonlySet<string>): OriginVerdict {
  const rawOrigin = firstHeader(req.headers.origin);
  const origin = rawOrigin === undefined ? undefined : normaliseOrigin(rawOrigin);
  if (origin !== undefined && trusted.has(origin)) return 'trusted';
  const site = firstHeader(req.headers['sec-fetch-site'])?.toLowerCase();
  if (site === 'same-origin' || site === 'none') return 'same-origin';
  if (site === 'cross-site') return 'cross-site';
  if (site === undefined && rawOrigin !== undefined) {
    return origin !== undefined && origin === ownOrigin(req) ? 'same-origin' : 'other-origin';
  }
  return 'unknown';
}
