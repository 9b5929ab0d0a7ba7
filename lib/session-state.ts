/** The session as this request last read or wrote it: its id and each value as JSON (internal). */
export interface SessionSnapshot {
  sid: string;
  values: Map<string, string>;
  /** Whether a record with this id is known to exist in the store (loaded or written by this request). */
  stored: boolean;
  /** Whether this request already wrote these values. */
  written: boolean;
}

/**
 * What the module keeps about one session object (internal). It lives on express-session's `Session`
 * object, under a symbol that is not enumerable (so JSON, spreads and `Object.assign` never carry it), and
 * not on `req`: adding a property to an Express 5 request costs microseconds, every request.
 */
export interface SessionState {
  /** The session as loaded or last written, to find what this request changed. */
  snapshot: SessionSnapshot;
  /** When the loaded session was created (the module's own timestamp in the record). */
  createdAt?: number;
  /** Whether the record was loaded without the module's timestamps while a timeout needs them: a touch stores them. */
  unstamped?: boolean;
  /** A logged-in session's handle: kept here, off the session's keys, and stored with its record. */
  handle?: string;
  /** Until when a logged-in session's index entry is kept, as its record says (renewed before it runs short). */
  indexedUntil?: number;
}

const SESSION_STATE = Symbol.for('nest-express-session:session-state');

type WithState = { [SESSION_STATE]?: SessionState };

/** The module's state of a session object, if the module made or loaded it. */
export function sessionStateOf(session: object | null | undefined): SessionState | undefined {
  return session ? (session as WithState)[SESSION_STATE] : undefined;
}

/** Attaches the module's state to a session object (internal). */
export function attachSessionState(session: object, state: SessionState): void {
  Object.defineProperty(session, SESSION_STATE, { value: state, writable: true, configurable: true });
}
