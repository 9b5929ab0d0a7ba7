import { InternalServerErrorException, ServiceUnavailableException } from '@nestjs/common';
import type { HttpException } from '@nestjs/common';
import type { Response } from 'express';
import { describe } from './log-format.js';

/** The message of every 503 caused by the session store. */
export const STORE_UNAVAILABLE_MESSAGE = 'The session store is unavailable; please try again shortly.';

/** The 503 a request gets when its session could not be loaded or written. */
export function storeUnavailable(cause?: unknown): ServiceUnavailableException {
  return new ServiceUnavailableException(STORE_UNAVAILABLE_MESSAGE, { cause });
}

/** Raised inside the store wrapper when a call takes longer than `storeTimeout`. */
export class StoreTimeoutError extends Error {
  constructor(operation: string, ms: number) {
    super(`Session store ${operation} did not answer within ${ms} ms`);
    this.name = 'StoreTimeoutError';
  }
}

/** A store call that failed, named by the call (`get`, `set`, `touch`, `destroy`, ...) so that logs say which. */
export class StoreCallError extends Error {
  constructor(
    readonly operation: string,
    cause: unknown,
  ) {
    super(`Session store ${operation} failed: ${describe(cause)}`, { cause });
    this.name = 'StoreCallError';
  }
}

/** Raised inside the store wrapper while the store has reported `disconnect`. */
export class StoreDisconnectedError extends Error {
  constructor(operation: string) {
    super(`Session store ${operation} refused: the store is disconnected`);
    this.name = 'StoreDisconnectedError';
  }
}

/** Raised inside the store wrapper while `maxPendingStoreCalls` calls wait for the store (a hung store). */
export class StoreBusyError extends Error {
  constructor(operation: string, max: number) {
    super(`Session store ${operation} refused: ${max} calls are still waiting for the store`);
    this.name = 'StoreBusyError';
  }
}

/** The 500 a request gets when the session holds a value that cannot be stored. */
export function unserialisableSession(cause: unknown): InternalServerErrorException {
  return new InternalServerErrorException(
    'The session holds a value that cannot be serialised (a circular object or a BigInt?).',
    { cause },
  );
}

/**
 * Answers with a Nest HTTP error's status and JSON body (the body Nest's default filter writes), through
 * `end` (the response's `end`, or the one it had before express-session wrapped it).
 */
export function writeHttpError(res: Response, error: HttpException, end: Response['end'] = endOf(res)): Response {
  const body = JSON.stringify(error.getResponse());
  res.statusCode = error.getStatus();
  for (const header of ['ETag', 'Content-Encoding', 'Last-Modified']) res.removeHeader(header);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  end.call(res, body, 'utf8');
  return res;
}

/**
 * The response's current `end`, to be called later with `.apply(res, ...)` or `.call(res, ...)` (the module
 * keeps the one from before express-session wrapped it, and its own wrapper calls the one it replaced).
 */
export function endOf(res: Response): Response['end'] {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- always called with the response as `this`
  return res.end;
}
