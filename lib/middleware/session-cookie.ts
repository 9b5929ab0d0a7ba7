import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CipherKey } from 'node:crypto';
import type { Request, Response } from 'express';

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
 * R4: with several cookies of the session's name, garbage, unsigned and foreign-signed ones are skipped and the
 * first validly signed one decides: the header is rewritten so that express-session, which reads the first, reads
 * that one. Its session is never checked here, so a gone session starts a fresh anonymous one and never falls
 * through to a later cookie (which a sibling subdomain may have planted with a broader Domain), and however many
 * cookies a client sends, the request costs express-session's one store read.
 */
export function pickSignedCookie(req: Request, header: string, settings: CookieSettings): void {
  const { name, secrets } = settings;
  const all = cookieValues(header, name);
  const chosen = all.find((raw) => signerOf(raw, secrets) >= 0);
  if (chosen !== undefined && chosen !== all[0]) {
    req.headers.cookie = `${name}=${encodeURIComponent(chosen)}; ${header}`;
  }
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
