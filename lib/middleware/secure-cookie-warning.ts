import type { TLSSocket } from 'node:tls';
import { Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { SessionOptions } from 'express-session';
import { sessionStateOf } from '../session-state.js';

const logger = new Logger('SessionModule');

/**
 * A watch for the quiet failure of `cookie.secure: true` behind a TLS proxy without `trust proxy`: Express sees
 * plain HTTP, so express-session stores the new session but never sends its cookie, and the login seems to work
 * while the browser stays anonymous. The watch warns once, the first time a request over plain HTTP stored a
 * session under an id its client does not have. Undefined when the options cannot lead there (no Secure cookie,
 * or express-session's own `proxy` option decides). Call it once the session is loaded, with the id loaded for
 * the request's cookie (internal).
 */
export function secureCookieWatch(
  options: SessionOptions,
): ((req: Request, res: Response, loadedId: string | undefined) => void) | undefined {
  const cookie = options.cookie;
  if (options.proxy !== undefined) return undefined;
  if (typeof cookie === 'object' && cookie.secure !== true) return undefined;
  let warned = false;
  return (req, res, loadedId) => {
    if (warned || req.session?.cookie.secure !== true || req.secure) return;
    if ((req.socket as Partial<TLSSocket>).encrypted || trustsProxy(req)) return;
    res.once('finish', () => {
      const session = req.session as typeof req.session | undefined;
      const snapshot = sessionStateOf(session)?.snapshot;
      if (warned || !session || session.id === loadedId || !snapshot?.stored || snapshot.sid !== session.id) return;
      warned = true;
      logger.warn(
        'A session was stored but its cookie was not sent: cookie.secure is true and this request came over plain ' +
          "HTTP as Express sees it. Behind a proxy that ends TLS, call app.set('trust proxy', 1) (or the proxy's " +
          'address) so that Express trusts X-Forwarded-Proto; otherwise serve HTTPS or turn cookie.secure off in development.',
      );
    });
  };
}

/** Whether the app trusts a proxy at all (Express's `trust proxy` setting). */
function trustsProxy(req: Request): boolean {
  const app = req.app as Request['app'] | undefined;
  return typeof app?.get === 'function' && Boolean(app.get('trust proxy'));
}
