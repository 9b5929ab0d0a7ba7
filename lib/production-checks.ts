import { Logger } from '@nestjs/common';
import { MemoryStore } from 'express-session';
import type { SessionModuleOptions } from './interfaces/index.js';
import type { ResolvedSessionModuleOptions } from './resolve-options.js';
import { EmbeddedStore } from './stores/embedded-store.js';

const SAMPLE_SECRETS = new Set([
  'keyboard cat',
  'secret',
  'changeme',
  'change-me',
  'session-secret',
  'my-secret',
  'mysecret',
  'password',
]);
const MIN_SECRET_LENGTH = 32;
const logger = new Logger('SessionModule');

/** R5: in production, refuse at boot what would leak sessions or emit cookies browsers reject. */
export function checkProduction(session: ResolvedSessionModuleOptions['session'], options: SessionModuleOptions): void {
  if (process.env.NODE_ENV !== 'production') return;
  const problems: string[] = [];
  const secrets = Array.isArray(session.secret) ? session.secret : [session.secret];
  for (const secret of secrets) {
    const text = secretText(secret);
    if (SAMPLE_SECRETS.has(text.toLowerCase())) {
      problems.push('session.secret is a well-known sample value; use a long random string from the environment');
    } else if (text.length < MIN_SECRET_LENGTH) {
      problems.push(`session.secret is shorter than ${MIN_SECRET_LENGTH} characters; use a long random string`);
    }
  }
  if (session.store instanceof MemoryStore) {
    problems.push(
      "session.store is express-session's MemoryStore, which leaks memory; omit store (embedded store) or use Redis/PostgreSQL",
    );
  }
  const cookie = typeof session.cookie === 'object' ? session.cookie : undefined;
  const secure = cookie?.secure === true || cookie?.secure === 'auto';
  const name = session.name ?? 'connect.sid';
  if (cookie && name.startsWith('__Host-')) {
    if (cookie.domain) problems.push('a __Host- cookie must not have cookie.domain; remove it');
    if ((cookie.path ?? '/') !== '/') problems.push("a __Host- cookie must have cookie.path '/'");
    if (!secure) problems.push('a __Host- cookie needs cookie.secure: true (or "auto")');
  }
  if (cookie && name.startsWith('__Secure-') && !secure) {
    problems.push('a __Secure- cookie needs cookie.secure: true (or "auto")');
  }
  if (cookie && cookie.sameSite === 'none' && !secure) {
    problems.push("cookie.sameSite 'none' needs cookie.secure: true (browsers reject it otherwise)");
  }
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
}

/** A secret as text (express-session takes strings, and Buffers or typed arrays too). */
export function secretText(secret: unknown): string {
  if (typeof secret === 'string') return secret;
  if (ArrayBuffer.isView(secret))
    return Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength).toString('latin1');
  return secret == null ? '' : (JSON.stringify(secret) ?? '');
}
