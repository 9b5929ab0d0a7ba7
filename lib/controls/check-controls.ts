import type { Store } from 'express-session';
import type { SessionModuleOptions } from '../interfaces/index.js';
import { INDEXED_STORES, indexOf } from './session-index.js';

/**
 * Refuses session-control options that are malformed, or given with a store that has no per-user index
 * (they could only be ignored there, silently).
 */
export function checkControlOptions(options: SessionModuleOptions, store: Store): void {
  const { userIdOf, maxSessionsPerUser, onSessionLimit } = options;
  if (userIdOf !== undefined && typeof userIdOf !== 'function') {
    throw new Error(`SessionModule: options.userIdOf must be a function (session) => user id, not ${typeof userIdOf}.`);
  }
  if (maxSessionsPerUser !== undefined && !(Number.isInteger(maxSessionsPerUser) && maxSessionsPerUser >= 1)) {
    throw new Error(
      `SessionModule: options.maxSessionsPerUser must be a whole number of at least 1, not ${String(maxSessionsPerUser)}.`,
    );
  }
  if (onSessionLimit !== undefined && onSessionLimit !== 'evict' && onSessionLimit !== 'refuse') {
    throw new Error(
      `SessionModule: options.onSessionLimit must be 'evict' or 'refuse', not ${String(onSessionLimit)}.`,
    );
  }
  const given = (['userIdOf', 'maxSessionsPerUser', 'onSessionLimit'] as const).filter((k) => options[k] !== undefined);
  if (given.length > 0 && !indexOf(store)) {
    throw new Error(
      `SessionModule: options.${given.join(', options.')} need a store with a per-user index of sessions, ` +
        `which this store (${store.constructor?.name ?? 'unknown'}) has not. Stores with one: ${INDEXED_STORES}.`,
    );
  }
}
