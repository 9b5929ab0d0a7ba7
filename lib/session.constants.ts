/**
 * Injection token of the resolved {@link SessionModuleOptions} (defaults merged, `session.store` set).
 * A string, so that the ESM and CommonJS builds of this package share it.
 */
export const SESSION_MODULE_OPTIONS = 'NEST_EXPRESS_SESSION:MODULE_OPTIONS';

/** Injection token of the options exactly as the user gave them (internal). */
export const SESSION_RAW_OPTIONS = 'NEST_EXPRESS_SESSION:RAW_OPTIONS';

/** Injection token of the middleware and the guarded store built from the options (internal). */
export const SESSION_RUNTIME = 'NEST_EXPRESS_SESSION:RUNTIME';

/** Metadata key set by `@AllowAnonymous()`. */
export const ALLOW_ANONYMOUS_KEY = 'NEST_EXPRESS_SESSION:ALLOW_ANONYMOUS';

/** Default longest time a store call may take, in milliseconds. */
export const DEFAULT_STORE_TIMEOUT = 5_000;

/** Default most store calls that may wait for the store at once (`maxPendingStoreCalls`). */
export const DEFAULT_MAX_PENDING_STORE_CALLS = 1_000;

/** Injection token of the switch that says whether requests run inside SessionService's context (internal). */
export const SESSION_CONTEXT_SWITCH = 'NEST_EXPRESS_SESSION:CONTEXT_SWITCH';
