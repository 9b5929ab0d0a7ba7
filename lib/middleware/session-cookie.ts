import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CipherKey } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Store } from 'express-session';

/** The signed form express-session puts in the cookie: `s:<id>.<HMAC-SHA256, base64 without padding>`. */
export function signId(sid: string, secret: CipherKey): string {
  return `s:${sid}.${createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '')}`;
}

/** The index of the secret that signed this raw cookie value, or -1 (unsigned, tampered or garbage). */
export function signerOf(raw: string, secrets: CipherKey[]): number {
  if (!raw.startsWith('s:')) return -1;
  const dot = raw.lastIndexOf('.');
  if (dot < 2) return -1;
  const sid = raw.slice(2, dot);
  const given = Buffer.from(raw);
  for (let i = 0; i < secrets.length; i++) {
    const expected = Buffer.from(signId(sid, secrets[i]));
    if (expected.length === given.length && timingSafeEqual(expected, given)) return i;
  }
  return -1;
}

/** The id inside a signed raw cookie value. */
export function idOf(raw: string): string {
  return raw.slice(2, raw.lastIndexOf('.'));
}

/** Every value the Cookie header carries for `name`, decoded, in order (browsers send the most specific first). */
export function cookieValues(header: string, name: string): string[] {
  const values: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      values.push(decodeURIComponent(value));
    } catch {
      values.push(value);
    }
  }
  return values;
}

/** Whether the header may hold more than one cookie named `name` (cheap test before parsing). */
export function mayRepeat(header: string, name: string): boolean {
  const first = header.indexOf(`${name}=`);
  return first !== -1 && header.indexOf(`${name}=`, first + name.length + 1) !== -1;
}

/** What reading the session cookie needs to know (internal). */
export interface CookieSettings {
  /** The cookie's name. */
  name: string;
  /** The secrets, newest first. */
  secrets: CipherKey[];
}

/**
 * Most cookies of the session's name whose sessions are looked up for one request: the stale-cookie case
 * (an old cookie sent before the live one) needs two, and a client sending more must not buy more store reads.
 */
export const MAX_COOKIE_LOOKUPS = 2;

/**
 * R4: with several cookies of the session's name, the first one whose session exists is used: the header is
 * rewritten so that express-session, which reads the first, reads that one. Only the first
 * {@link MAX_COOKIE_LOOKUPS} validly signed cookies are looked up. `then` runs when that is decided.
 */
export function pickLiveCookie(
  req: Request,
  header: string,
  settings: CookieSettings,
  store: Pick<Store, 'get'>,
  then: () => void,
): void {
  const { name, secrets } = settings;
  const all = cookieValues(header, name);
  const candidates: string[] = [];
  for (const raw of all) {
    if (signerOf(raw, secrets) >= 0 && candidates.push(raw) === MAX_COOKIE_LOOKUPS) break;
  }
  if (candidates.length === 0) return then();
  const tryAt = (i: number): void => {
    if (i >= candidates.length) return then();
    store.get(idOf(candidates[i]), (err, found) => {
      if (err || !found) return tryAt(i + 1);
      if (candidates[i] !== all[0]) req.headers.cookie = `${name}=${encodeURIComponent(candidates[i])}; ${header}`;
      then();
    });
  };
  tryAt(0);
}

/** R3: a cookie still signed with an older secret gets the newest signature in this response. */
export function resignCookie(req: Request, res: Response, settings: CookieSettings): void {
  const { name, secrets } = settings;
  const raw = req.headers.cookie ? cookieValues(req.headers.cookie, name)[0] : undefined;
  if (!raw || signerOf(raw, secrets) <= 0 || idOf(raw) !== req.sessionID) return;
  const cookie = req.session.cookie as typeof req.session.cookie & {
    priority?: 'low' | 'medium' | 'high';
    partitioned?: boolean;
  };
  res.cookie(name, signId(req.sessionID, secrets[0]), {
    expires: cookie.expires ?? undefined,
    path: cookie.path,
    domain: cookie.domain,
    secure: cookie.secure === true,
    httpOnly: cookie.httpOnly,
    sameSite: cookie.sameSite,
    priority: cookie.priority,
    partitioned: cookie.partitioned,
  });
}
