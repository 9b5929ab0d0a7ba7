import { HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { describe } from '../log-format.js';
import { endOf, storeUnavailable, writeHttpError } from '../session.errors.js';
import { OverwrittenSessionKeyError, serialiseSession, sessionSaveError } from '../session-keys.js';
import { sessionStateOf } from '../session-state.js';
import type { GuardedStore } from '../stores/guarded-store.js';
import { isDirty } from '../stores/session-record.js';

const logger = new Logger('SessionModule');

/** How responses end for one SessionModule (internal). */
export interface CommitSettings {
  store: GuardedStore;
  /**
   * Whether the module may end a response itself once it saved or touched the session. False with
   * `resave: true`, where express-session saves every session at the end, changed or not.
   */
  plainEnd: boolean;
}

/**
 * R12 and R15: when the response ends, a changed session is saved first, while the status can still
 * change. A failed save turns the response into the 503 (not a 2xx for data never stored); a value that
 * cannot be serialised, or a method or the cookie of the session overwritten by the handler, turns it into a
 * clear 500 that completes at once (express-session's own `res.end` would throw and leave the socket
 * hanging). The session is then dropped so nothing saves it later.
 * A response whose headers are already out (streamed with `res.write`) ends as express-session ends it.
 *
 * Once the module has saved the changed session, or touched an unchanged session loaded for this cookie,
 * the response ends through `rawEnd` (res.end as it was before express-session wrapped it): express-session's
 * end would only hash the session again to find it has nothing to do. Every other case (no session, a new
 * session it may save uninitialised, `resave`) ends through express-session's end as before.
 *
 * @param loadedId the id of the session loaded for this request's cookie, if one was
 */
export function commitBeforeEnd(
  req: Request,
  res: Response,
  rawEnd: Response['end'],
  loadedId: string | undefined,
  { store, plainEnd }: CommitSettings,
): void {
  const end = endOf(res);
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
      values = serialiseSession(session);
    } catch (err) {
      req.session = undefined as never;
      logger.error(
        err instanceof OverwrittenSessionKeyError
          ? `The handler overwrote the session's "${err.key}"; the response is a 500 and nothing is saved`
          : `The session holds a value that cannot be serialised: ${describe(err)}`,
      );
      return writeHttpError(res, sessionSaveError(err), end);
    }
    if (!isDirty(sessionStateOf(session)?.snapshot, session.id, values)) {
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
    const saved = (err?: unknown): void => {
      if (!err) {
        ended = plainEnd;
        return void (plainEnd ? rawEnd : end).apply(res, args as never);
      }
      req.session = undefined as never;
      logger.error(`Session could not be saved; the response is a 503: ${describe(err)}`);
      writeHttpError(res, err instanceof HttpException ? err : storeUnavailable(err), end);
    };
    // session.save() also records the saved state in express-session, which only its own end reads.
    if (plainEnd) store.write(session.id, session, values, saved);
    else session.save(saved);
    return res;
  } as Response['end'];
}
