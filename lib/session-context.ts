import { AsyncLocalStorage } from 'node:async_hooks';
import type { Request } from 'express';

/**
 * The AsyncLocalStorage that tells singleton services which request they serve. One instance per process,
 * shared through a global symbol so the ESM and CommonJS builds of this package see the same context.
 * Its first `run()` turns on async hooks for the whole process (on Node 20, promise hooks that every
 * request pays for), so the module opens it only in apps that inject SessionService.
 */
const key = Symbol.for('nest-express-session:context');
const holder = globalThis as { [key]?: AsyncLocalStorage<Request> };
export const sessionContext: AsyncLocalStorage<Request> = (holder[key] ??= new AsyncLocalStorage<Request>());

/** Whether requests run inside the context that SessionService reads. */
export interface ContextSwitch {
  enabled: boolean;
}

/** Each module instance's switch, keyed by its resolved options (which SessionService holds too). */
const switches = new WeakMap<object, ContextSwitch>();

/** Records the switch of the module instance whose resolved options these are (internal). */
export function registerContextSwitch(options: object, context: ContextSwitch): void {
  switches.set(options, context);
}

/** Whether the module instance with these options opens the request context (internal). */
export function contextEnabled(options: object): boolean {
  return switches.get(options)?.enabled !== false;
}
