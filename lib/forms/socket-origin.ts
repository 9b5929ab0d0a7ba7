import type { IncomingMessage } from 'node:http';
import type { Express } from 'express';
import { normaliseOrigin } from './csrf-options.js';
import { ownOrigin } from './request-origin.js';
import type { OriginSource } from './request-origin.js';

/** The message of a socket.io handshake refused for its origin. */
const SOCKET_ORIGIN_REFUSED = 'This origin may not open a socket with this session (cross-site handshake).';

/**
 * Why a socket.io handshake must be refused for its `Origin`, or undefined when it may go on: a browser's
 * handshake from an origin that is neither the app's own (scheme and Host as Express reports them, `trust proxy`
 * included) nor trusted would ride on the user's session cookie. A handshake without `Origin` (not a browser,
 * or a same-origin long-poll) goes on.
 */
export function socketOriginProblem(
  raw: IncomingMessage,
  express: Express | undefined,
  trusted: ReadonlySet<string>,
): string | undefined {
  const header = raw.headers.origin;
  if (header === undefined) return undefined;
  const origin = normaliseOrigin(header);
  if (origin !== undefined && (trusted.has(origin) || origin === ownOrigin(expressView(raw, express)))) {
    return undefined;
  }
  return SOCKET_ORIGIN_REFUSED;
}

/** The raw handshake request seen through Express's request getters, so `protocol` and `host` honour `trust proxy`. */
function expressView(raw: IncomingMessage, express: Express | undefined): OriginSource {
  if (!express?.request) {
    const encrypted = (raw.socket as { encrypted?: boolean }).encrypted === true;
    return { headers: raw.headers, protocol: encrypted ? 'https' : 'http', host: raw.headers.host };
  }
  return Object.create(express.request, {
    headers: { value: raw.headers },
    socket: { value: raw.socket },
    connection: { value: raw.socket },
  }) as OriginSource;
}
