import { HttpException, Injectable, Logger } from '@nestjs/common';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import { from, mergeMap } from 'rxjs';
import type { Observable } from 'rxjs';
import { storeUnavailable, unserialisableSession } from './session.errors.js';
import { sessionState } from './session-request.js';
import type { SessionRequestState } from './session-request.js';
import { describe } from './stores/guarded-store.js';
import { isDirty, serialise } from './stores/session-record.js';

const logger = new Logger('SessionModule');

/**
 * Registered app-wide by SessionModule: a session the handler changed is saved before the response is
 * sent, so a failed write is the client's 503 instead of a 200 for data that was never stored (R12), and a
 * value that cannot be serialised is a clear 500 that completes at once (R15). Internal.
 */
@Injectable()
export class SessionCommitInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const req = context.switchToHttp().getRequest<Request>();
    const state = sessionState(req);
    if (!state) return next.handle();
    return next.handle().pipe(
      mergeMap((value: unknown) => {
        const saving = commit(req, state);
        return saving ? from(saving.then(() => value)) : [value];
      }),
    );
  }
}

/** Checks the session and, if it changed, saves it; undefined when there is nothing to wait for. */
function commit(req: Request, state: SessionRequestState): Promise<void> | undefined {
  state.committed = true;
  const session = req.session;
  if (!session) return undefined;
  let values: Map<string, string>;
  try {
    values = serialise(session);
  } catch (err) {
    req.session = undefined as never;
    logger.error(`The session holds a value that cannot be serialised: ${describe(err)}`);
    throw unserialisableSession(err);
  }
  if (!isDirty(state.snapshot, session.id, values)) return undefined;
  return new Promise<void>((resolve, reject) => {
    session.save((err?: unknown) => {
      if (!err) return resolve();
      // Nothing may save this session later in the response: the client is told it was not saved.
      req.session = undefined as never;
      logger.error(`Session could not be saved; the request gets an error: ${describe(err)}`);
      reject(err instanceof HttpException ? err : storeUnavailable(err));
    });
  });
}
