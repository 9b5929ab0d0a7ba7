import { InternalServerErrorException, Logger } from '@nestjs/common';
import type { HttpException } from '@nestjs/common';
import type { Request } from 'express';
import { MemoryStore } from 'express-session';
import type { CookieOptions } from 'express-session';
import type { SessionModuleOptions } from './interfaces/index.js';
import type { ResolvedSessionModuleOptions } from './resolve-options.js';
import { EmbeddedStore } from './stores/embedded-store.js';

/**
 * Secrets nobody may run production with: common samples, and every secret this package's own README and
 * sample show (test/reliability/production.test.ts fails when the docs show one that is missing here).
 */
const SAMPLE_SECRETS = new Set([
  'keyboard cat',
  'secret',
  'changeme',
  'change-me',
  'session-secret',
  'my-secret',
  'mysecret',
  'password',
  'development-only-secret-0123456789',
  'development-only-secret-change-me-0123456789',
]);
const MIN_SECRET_LENGTH = 32;
const logger = new Logger('SessionModule');

/** Whether `NODE_ENV` says production, in any letter case. */
function isProduction(): boolean {
  return process.env.NODE_ENV?.trim().toLowerCase() === 'production';
}

/** R5: in production, refuse at boot what would leak sessions or emit cookies browsers reject. */
export function checkProduction(session: ResolvedSessionModuleOptions['session'], options: SessionModuleOptions): void {
  if (!isProduction()) return;
  const problems: string[] = [];
  const secrets = Array.isArray(session.secret) ? session.secret : [session.secret];
  for (const secret of secrets) {
    const problem = secretProblem(secretText(secret));
    if (problem) problems.push(problem);
  }
  if (session.store instanceof MemoryStore) {
    problems.push(
      "session.store is express-session's MemoryStore, which leaks memory; omit store (embedded store) or use Redis/PostgreSQL",
    );
  }
  const name = session.name ?? 'connect.sid';
  const cookie = typeof session.cookie === 'object' ? session.cookie : undefined;
  if (cookie) problems.push(...cookieProblems(name, cookie));
  if (problems.length > 0) {
    throw new Error(`SessionModule refused to start in production:\n- ${problems.join('\n- ')}`);
  }
  if (/(^|[\s,])(express-session|\*)([\s,]|$)/.test(process.env.DEBUG ?? '')) {
    logger.warn(
      "DEBUG enables express-session's debug output, which prints raw session ids and cookies: turn it off in production.",
    );
  }
  if (session.store instanceof EmbeddedStore && !options.embeddedStore?.allowInProduction) {
    logger.warn(
      'Sessions are kept in the embedded in-memory store: they live in this process only and are lost on restart. ' +
        'Use Redis or PostgreSQL for more than one instance, or set embeddedStore.allowInProduction to silence this.',
    );
  }
  if (cookie && isSecure(cookie) && !name.toLowerCase().startsWith('__host-')) {
    // R4: a sibling subdomain can plant a cookie of this name with a broader Domain; a __Host- name cannot be.
    logger.warn(
      `The session cookie '${name}' is Secure but not __Host-prefixed: a sibling subdomain can set a cookie of ` +
        "the same name. Name it '__Host-<name>' (with no cookie.domain and cookie.path '/') so browsers refuse that.",
    );
  }
}

/**
 * R5 for a `cookie` given as a function: its result on the first request is checked as boot checks a plain
 * object. Undefined when there is nothing to check; otherwise a check that returns the 500 every request gets
 * when that result was refused (logged once), and undefined when it passed.
 */
export function cookieFunctionCheck(
  session: ResolvedSessionModuleOptions['session'],
): ((req: Request) => HttpException | undefined) | undefined {
  const make = session.cookie;
  if (typeof make !== 'function' || !isProduction()) return undefined;
  const name = session.name ?? 'connect.sid';
  let checked = false;
  let refusal: HttpException | undefined;
  return (req) => {
    if (checked) return refusal;
    checked = true;
    let problems: string[];
    try {
      problems = cookieProblems(name, make(req));
    } catch (err) {
      problems = [`session.cookie(req) threw: ${err instanceof Error ? err.message : String(err)}`];
    }
    if (problems.length > 0) {
      logger.error(
        `The session cookie options that session.cookie(req) returned are refused in production; every request ` +
          `gets a 500 until this is fixed:\n- ${problems.join('\n- ')}`,
      );
      refusal = new InternalServerErrorException(
        'The session cookie options are refused in production; the server log says why.',
      );
    }
    return refusal;
  };
}

/** What is wrong with a production secret, if anything. */
function secretProblem(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed.length === 0) return 'session.secret is blank; use a long random string from the environment';
  if (SAMPLE_SECRETS.has(trimmed.toLowerCase())) {
    return 'session.secret is a well-known sample value; use a long random string from the environment';
  }
  if (/^(.)\1*$/su.test(trimmed)) {
    return 'session.secret is one character repeated; use a long random string from the environment';
  }
  if (trimmed.length < MIN_SECRET_LENGTH) {
    return `session.secret is shorter than ${MIN_SECRET_LENGTH} characters; use a long random string`;
  }
  return undefined;
}

function isSecure(cookie: CookieOptions): boolean {
  return cookie.secure === true || cookie.secure === 'auto';
}

/** What browsers would reject, or what would leak, in a production cookie of this name. */
function cookieProblems(name: string, cookie: CookieOptions): string[] {
  const problems: string[] = [];
  const secure = isSecure(cookie);
  // Browsers match the prefixes in any letter case.
  const prefix = name.slice(0, 9).toLowerCase();
  if (prefix.startsWith('__host-')) {
    if (cookie.domain) problems.push('a __Host- cookie must not have cookie.domain; remove it');
    if ((cookie.path ?? '/') !== '/') problems.push("a __Host- cookie must have cookie.path '/'");
    if (!secure) problems.push('a __Host- cookie needs cookie.secure: true (or "auto")');
  }
  if (prefix.startsWith('__secure-') && !secure) {
    problems.push('a __Secure- cookie needs cookie.secure: true (or "auto")');
  }
  if (typeof cookie.sameSite === 'string' && cookie.sameSite.toLowerCase() === 'none' && !secure) {
    problems.push("cookie.sameSite 'none' needs cookie.secure: true (browsers reject it otherwise)");
  }
  return problems;
}

/** A secret as text (express-session takes strings, and Buffers or typed arrays too). */
export function secretText(secret: unknown): string {
  if (typeof secret === 'string') return secret;
  if (ArrayBuffer.isView(secret))
    return Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength).toString('latin1');
  return secret == null ? '' : (JSON.stringify(secret) ?? '');
}
