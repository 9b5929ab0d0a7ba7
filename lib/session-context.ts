import { AsyncLocalStorage } from 'node:async_hooks';
import type { Request } from 'express';

/**
 * The AsyncLocalStorage that tells singleton services which request they serve. One instance per process,
 * shared through a global symbol so the ESM and CommonJS builds of this package see the same context.
 */
const key = Symbol.for('nest-express-session:context');
const holder = globalThis as { [key]?: AsyncLocalStorage<Request> };
export const sessionContext: AsyncLocalStorage<Request> = (holder[key] ??= new AsyncLocalStorage<Request>());
