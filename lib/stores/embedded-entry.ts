import type { SessionData } from 'express-session';
import type { RecordWrite } from './changed-key-writes.js';

// How the embedded store holds a session (internal), and what it reads from one without parsing it.

/**
 * One stored session: its cookie as JSON, then each key and its value as JSON, in one flat array, so a change
 * rewrites only its own keys (a Map and an entry object per session took 230 more bytes per session). A record
 * that is not a session object (stored through `set` by other code) is kept as its JSON text.
 */
export type Entry = string[] | string;

/**
 * Whether a stored session is logged in, for the eviction order: it holds a `userId` (what
 * `SessionService.logIn()` sets, and the default `isAuthenticated` checks) or Passport's `passport.user`. The
 * record decides, not the module's `isAuthenticated` option: that one may need the request or be async, and this
 * runs on every login and logout, in the store. An app whose own check looks elsewhere and that never calls
 * `logIn()` gets plain least-recently-used order.
 */
export function isLoggedIn(entry: Entry): boolean {
  if (typeof entry === 'string') return false;
  const userId = valueOf(entry, 'userId');
  if (userId !== undefined && userId !== 'null') return true;
  const passport = valueOf(entry, 'passport');
  if (passport === undefined) return false;
  try {
    return (JSON.parse(passport) as { user?: unknown } | null)?.user != null;
  } catch {
    return false;
  }
}

/** Whether a change may log the session in or out (any other leaves it in its list, with nothing parsed). */
export function changesLogin(write: RecordWrite): boolean {
  return write.set.has('userId') || write.set.has('passport') || write.unset.some(isLoginKey);
}

function isLoginKey(key: string): boolean {
  return key === 'userId' || key === 'passport';
}

/**
 * An entry's size for `maxBytes`: the length of its record's JSON text (a byte per character of ASCII text, as
 * V8 holds it), counted from the lengths of the stored JSON values, so nothing is serialised to count it.
 */
export function sizeOf(entry: Entry): number {
  if (typeof entry === 'string') return entry.length;
  let size = 2 + entry[0].length + 9;
  for (let i = 1; i < entry.length; i += 2) size += entry[i].length + entry[i + 1].length + 4;
  return size;
}

/**
 * A map of the keys of a large session, when `write` changes several of them: they are then looked up there
 * rather than scanned once per changed key. Undefined for a small session or a one-key change.
 */
export function keyMap(entry: string[], write: RecordWrite): Map<string, string> | undefined {
  if ((entry.length - 1) / 2 <= SCAN_LIMIT || write.set.size + write.unset.length <= 1) return undefined;
  const values = new Map<string, string>();
  for (let i = 1; i < entry.length; i += 2) values.set(entry[i], entry[i + 1]);
  return values;
}

/** The size `entry` will have once `write` is applied to it (the entry is not changed; `values`: its keyMap). */
export function patchedSize(entry: string[], write: RecordWrite, values = keyMap(entry, write)): number {
  const lookup = values ? (key: string) => values.get(key) : (key: string) => valueOf(entry, key);
  let size = sizeOf(entry) + write.cookie.length - entry[0].length;
  for (const [key, value] of write.set) {
    if (key === 'cookie') continue;
    const old = lookup(key);
    size += old === undefined ? key.length + value.length + 4 : value.length - old.length;
  }
  for (const key of write.unset) {
    const old = lookup(key);
    if (old !== undefined) size -= key.length + old.length + 4;
  }
  return size;
}

/** The JSON value of `key` in an entry, or undefined. */
function valueOf(entry: string[], key: string): string | undefined {
  const at = indexOfKey(entry, key);
  return at < 0 ? undefined : entry[at + 1];
}

/** A fresh session object from a stored entry. */
export function parse(entry: Entry): SessionData {
  if (typeof entry === 'string') return JSON.parse(entry) as SessionData;
  let json = `{"cookie":${entry[0]}`;
  for (let i = 1; i < entry.length; i += 2) json += `,${JSON.stringify(entry[i])}:${entry[i + 1]}`;
  return JSON.parse(json + '}') as SessionData;
}

export function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An entry holding `cookie` and `values` (the cookie is never among the values). */
export function toEntry(cookie: string, values: ReadonlyMap<string, string>): string[] {
  // Sized up front: an array grown by push keeps room for 16 more elements, 136 bytes per session.
  const entry = new Array<string>(1 + 2 * (values.size - (values.has('cookie') ? 1 : 0)));
  entry[0] = cookie;
  let i = 1;
  for (const [key, value] of values) {
    if (key === 'cookie') continue;
    entry[i++] = key;
    entry[i++] = value;
  }
  return entry;
}

/** Past this many keys a patch indexes the entry's keys rather than scanning them once per changed key. */
const SCAN_LIMIT = 16;

/**
 * `entry` with `write` applied: in place when the session is small, else rebuilt through `values`, the map of
 * its keys (see keyMap; it is changed too).
 */
export function patchEntry(entry: string[], write: RecordWrite, values = keyMap(entry, write)): string[] {
  if (values) {
    for (const [key, value] of write.set) values.set(key, value);
    for (const key of write.unset) values.delete(key);
    return toEntry(write.cookie, values);
  }
  entry[0] = write.cookie;
  for (const [key, value] of write.set) {
    if (key === 'cookie') continue;
    const at = indexOfKey(entry, key);
    if (at < 0) entry.push(key, value);
    else entry[at + 1] = value;
  }
  for (const key of write.unset) {
    const at = indexOfKey(entry, key);
    if (at > 0) entry.splice(at, 2);
  }
  return entry;
}

/** Where `key` is among the entry's keys (the odd indexes), or -1. */
function indexOfKey(entry: string[], key: string): number {
  for (let i = 1; i < entry.length; i += 2) if (entry[i] === key) return i;
  return -1;
}
