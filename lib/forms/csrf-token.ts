import { randomBytes, timingSafeEqual } from 'node:crypto';
import { formsStateFor, formsStateOf } from './forms-state.js';

const SECRET_BYTES = 32;

/**
 * A token for the session's CSRF secret, made on first use. Each call masks the secret with a new random
 * pad (token = pad ‖ pad XOR secret, base64url), so no two responses carry the same bytes (BREACH), while
 * every token of the current secret verifies: several tabs of one session all work.
 */
export function issueCsrfToken(session: object): string {
  const state = formsStateFor(session);
  state.csrf ??= randomBytes(SECRET_BYTES).toString('base64url');
  const secret = Buffer.from(state.csrf, 'base64url');
  const pad = randomBytes(secret.length);
  const masked = Buffer.alloc(secret.length);
  for (let i = 0; i < secret.length; i++) masked[i] = pad[i] ^ secret[i];
  return Buffer.concat([pad, masked]).toString('base64url');
}

/** Why a token does not verify against the session's secret, or undefined when it does. Never writes. */
export function csrfTokenProblem(session: object | undefined, token: string): 'no-secret' | 'invalid' | undefined {
  const encoded = formsStateOf(session)?.csrf;
  if (encoded === undefined) return 'no-secret';
  const secret = Buffer.from(encoded, 'base64url');
  const raw = Buffer.from(token, 'base64url');
  if (raw.length !== secret.length * 2 || secret.length === 0) return 'invalid';
  const unmasked = Buffer.alloc(secret.length);
  for (let i = 0; i < secret.length; i++) unmasked[i] = raw[i] ^ raw[i + secret.length];
  return timingSafeEqual(unmasked, secret) ? undefined : 'invalid';
}
