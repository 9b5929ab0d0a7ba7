import { HttpException, Logger } from '@nestjs/common';
import type { CipherKey } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import expressSession from 'express-session';
import type { ResolvedSessionModuleOptions } from './session.options.js';
import { registerContextSwitch, sessionContext } from './session-context.js';
import type { ContextSwitch } from './session-context.js';
import { cookieValues, idOf, mayRepeat, signId, signerOf } from './session-cookie.js';
import { attachSessionState, markLoadFailure, sessionStateOf } from './session-request.js';
import { GuardedStore } from './stores/guarded-store.js';
import { describe } from './stores/store-call.js';
import { isDirty, serialise } from './stores/session-record.js';
import { storeUnavailable, unserialisableSession } from './session.errors.js';

const logger = new Logger('SessionModule');

/** The store wrapper and the middleware built from the resolved options (internal). */
export interface SessionRuntime {
  store: GuardedStore;
  /** express-session, then the request context: the default mount, for every route. */
  middleware: RequestHandler;
  /** express-session alone, for routes picked by forRoutes/exclude. */
  sessionOnly: RequestHandler;
  /** express-session on a socket.io handshake: a failure is marked on the request, not answered. */
  handshake: RequestHandler;
  /** The request context alone, mounted for every route beside `sessionOnly`. */
  openContext: RequestHandler;
  context: ContextSwitch;
}

type Step = (req: Request, res: Response, next: NextFunction) => void;

/**
 * Builds express-session over the guarded store, and around it the module's own middleware. Before
 * express-session: of two cookies with the session's name, the live one is used. After it: a session that
 * could not be loaded is answered with the 503 at once (never Express's error handler, never the handler);
 * a cookie signed with an older secret is signed again with the newest; a changed session is saved before
 * the response ends; errors express-session reports after the response are logged, never passed on
 * (Express would destroy the socket).
 */
export function createSessionRuntime(options: ResolvedSessionModuleOptions): SessionRuntime {
  const store = new GuardedStore(options.session.store, {
    retries: options.retries,
    retriesStrategy: options.retriesStrategy,
    timeout: options.storeTimeout,
    touchAfter: options.touchAfter,
    idleTimeout: options.idleTimeout,
    absoluteTimeout: options.absoluteTimeout,
  });
  const session = expressSession({ ...options.session, store });
  const generate = store.generate;
  store.generate = (req) => {
    generate(req);
    attachSessionState(req.session, {
      snapshot: { sid: req.sessionID, values: new Map(), stored: false, written: false },
    });
  };
  const name = options.session.name ?? 'connect.sid';
  // With resave, express-session saves every session at the end, changed or not: its end then stays in charge.
  const plainEnd = options.session.resave !== true;
  const secret = options.session.secret;
  const secrets: CipherKey[] = Array.isArray(secret) ? secret : [secret];
  // Off until SessionModule finds, at startup, something that injects SessionService.
  const context: ContextSwitch = { enabled: false };
  registerContextSwitch(options, context);

  const openContext: Step = (req, _res, next) => {
    if (context.enabled) sessionContext.run(req, next);
    else next();
  };

  /** `andThen` undefined: a socket.io handshake, which has no response of its own to answer or commit. */
  const load = (req: Request, res: Response, next: NextFunction, andThen?: Step): void => {
    // res.end before express-session wraps it: once the module has saved or touched the session itself,
    // express-session's end has nothing left to do but hash the session twice more.
    const rawEnd = res.end;
    let continued = false;
    session(req, res, (err?: unknown) => {
      if (continued) {
        if (err) logger.error(`Session could not be written after the response: ${describe(err)}`);
        return;
      }
      continued = true;
      if (err) {
        // R10, R13: answered here, before any guard or handler runs; never Express's error handler.
        markLoadFailure(req, err);
        logger.error(`Session could not be loaded: ${describe(err)}`);
        if (andThen) sendError(res, storeUnavailable(err));
        else next();
        return;
      }
      if (!andThen) return next();
      if (req.session) {
        if (secrets.length > 1) resign(req, res);
        const loadedId = sessionStateOf(req.session)?.snapshot.stored ? req.sessionID : undefined;
        commitBeforeEnd(req, res, loadedId, rawEnd, plainEnd, store);
      }
      andThen(req, res, next);
    });
  };

  /** R3: a cookie still signed with an older secret gets the newest signature in this response. */
  const resign = (req: Request, res: Response): void => {
    const raw = req.headers.cookie ? cookieValues(req.headers.cookie, name)[0] : undefined;
    if (!raw || signerOf(raw, secrets) <= 0 || idOf(raw) !== req.sessionID) return;
    const cookie = req.session.cookie as typeof req.session.cookie & {
      priority?: 'low' | 'medium' | 'high';
      partitioned?: boolean;
    };
    res.cookie(name, signId(req.sessionID, secrets[0]), {
      expires: cookie.expires ?? undefined,
      path: cookie.path,
      domain: cookie.domain,
      secure: cookie.secure === true,
      httpOnly: cookie.httpOnly,
      sameSite: cookie.sameSite,
      priority: cookie.priority,
      partitioned: cookie.partitioned,
    });
  };

  /** R4: with several cookies of the session's name, the first one whose session exists is used. */
  const pickLive = (req: Request, header: string, then: () => void): void => {
    const all = cookieValues(header, name);
    const candidates = all.filter((raw) => signerOf(raw, secrets) >= 0);
    if (candidates.length === 0) return then();
    const tryAt = (i: number): void => {
      if (i >= candidates.length) return then();
      store.get(idOf(candidates[i]), (err, found) => {
        if (err || !found) return tryAt(i + 1);
        if (candidates[i] !== all[0]) req.headers.cookie = `${name}=${encodeURIComponent(candidates[i])}; ${header}`;
        then();
      });
    };
    tryAt(0);
  };

  const withSession =
    (andThen: Step): RequestHandler =>
    (req, res, next) => {
      const header = req.headers.cookie;
      if (header && mayRepeat(header, name)) pickLive(req, header, () => load(req, res, next, andThen));
      else load(req, res, next, andThen);
    };

  return {
    store,
    middleware: withSession(openContext),
    sessionOnly: withSession((_req, _res, next) => next()),
    handshake: (req, res, next) => load(req, res, next),
    openContext,
    context,
  };
}

/**
 * R12 and R15: when the response ends, a changed session is saved first, while the status can still
 * change. A failed save turns the response into the 503 (not a 2xx for data never stored); a value that
 * cannot be serialised turns it into a clear 500 that completes at once (express-session's own `res.end`
 * would throw and leave the socket hanging). The session is then dropped so nothing saves it later.
 * A response whose headers are already out (streamed with `res.write`) ends as express-session ends it.
 *
 * Once the module has saved the changed session, or touched an unchanged session loaded for this cookie,
 * the response ends through `rawEnd` (res.end as it was before express-session wrapped it): express-session's
 * end would only hash the session again to find it has nothing to do. Every other case (no session, a new
 * session it may save uninitialised, `resave`) ends through express-session's end as before.
 */
function commitBeforeEnd(
  req: Request,
  res: Response,
  loadedId: string | undefined,
  rawEnd: Response['end'],
  plainEnd: boolean,
  store: GuardedStore,
): void {
  const end = res.end;
  /** Set once the session was checked (serialisable, saved if changed). */
  let committed = false;
  /** Set once the module saved or touched the session itself: the response ends without express-session's end. */
  let ended = false;
  res.end = function (this: Response, ...args: unknown[]) {
    const session = req.session;
    if (committed || !session || res.headersSent) {
      return (ended ? rawEnd : end).apply(this, args as never);
    }
    committed = true;
    let values: Map<string, string>;
    try {
      values = serialise(session);
    } catch (err) {
      req.session = undefined as never;
      logger.error(`The session holds a value that cannot be serialised: ${describe(err)}`);
      return replaceBody(res, end, unserialisableSession(err));
    }
    const state = sessionStateOf(session);
    if (!isDirty(state?.snapshot, session.id, values)) {
      if (!plainEnd || loadedId !== session.id) return end.apply(this, args as never);
      // Unchanged and loaded for this cookie: express-session would renew the expiry and touch the store.
      ended = true;
      session.touch();
      store.touch(session.id, session, (err?: unknown) => {
        if (err) logger.error(`Session could not be touched: ${describe(err)}`);
        rawEnd.apply(res, args as never);
      });
      return res;
    }
    if (state) state.pending = values;
    const saved = (err?: unknown): void => {
      if (!err) {
        ended = plainEnd;
        return void (plainEnd ? rawEnd : end).apply(res, args as never);
      }
      req.session = undefined as never;
      logger.error(`Session could not be saved; the response is a 503: ${describe(err)}`);
      replaceBody(res, end, err instanceof HttpException ? err : storeUnavailable(err));
    };
    // session.save() also records the saved state in express-session, which only its own end reads.
    if (plainEnd) store.set(session.id, session, saved);
    else session.save(saved);
    return res;
  } as Response['end'];
}

/** Answers with a Nest HTTP error's status and JSON body (the body Nest's default filter writes). */
function sendError(res: Response, error: HttpException): void {
  replaceBody(res, res.end, error);
}

function replaceBody(res: Response, end: Response['end'], error: HttpException): Response {
  const body = JSON.stringify(error.getResponse());
  res.statusCode = error.getStatus();
  for (const header of ['ETag', 'Content-Encoding', 'Last-Modified']) res.removeHeader(header);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  end.call(res, body, 'utf8');
  return res;
}
