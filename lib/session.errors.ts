import { InternalServerErrorException, ServiceUnavailableException } from '@nestjs/common';

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

/** Raised inside the store wrapper while the store has reported `disconnect`. */
export class StoreDisconnectedError extends Error {
  constructor() {
    super('Session store is disconnected');
    this.name = 'StoreDisconnectedError';
  }
}

/** The 500 a request gets when the session holds a value that cannot be stored. */
export function unserialisableSession(cause: unknown): InternalServerErrorException {
  return new InternalServerErrorException(
    'The session holds a value that cannot be serialised (a circular object or a BigInt?).',
    { cause },
  );
}
