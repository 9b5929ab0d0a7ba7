import { createHash } from 'node:crypto';
import type { SetIfResult } from './conditional-store.js';

/**
 * What redisStore() stores and how: each session is one key holding its JSON (the same keys and format as
 * connect-redis), expiring to the millisecond. The commands below are the ones the store sends itself
 * (node-redis names); connect-redis sends the others (destroy, all, length, clear, ids). Internal.
 */
export interface RedisCommands {
  get(key: string): Promise<string | null>;
  evalSha(sha: string, options: ScriptArguments): Promise<unknown>;
  eval(script: string, options: ScriptArguments): Promise<unknown>;
  set(key: string, value: string, options: { expiration: { type: 'PX'; value: number } }): Promise<unknown>;
  del(key: string): Promise<unknown>;
  pExpire(key: string, ms: number): Promise<unknown>;
}

interface ScriptArguments {
  keys: string[];
  arguments: string[];
}

/**
 * Writes ARGV[2] (expiring in ARGV[3] ms, or deletes the key when that is not above 0) only if the stored
 * text still has the SHA-1 ARGV[1]. Returns 1 when written, 0 when the key is gone, else the stored text.
 */
const SET_IF_SCRIPT = `local current = redis.call('GET', KEYS[1])
if not current then return 0 end
if redis.sha1hex(current) ~= ARGV[1] then return current end
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl) else redis.call('DEL', KEYS[1]) end
return 1`;
const SET_IF_SHA = sha1(SET_IF_SCRIPT);

/** The session stored under `key` (one GET), with its stored JSON, or null. */
export async function readSession(redis: RedisCommands, key: string): Promise<{ record: unknown; raw: string } | null> {
  const raw = await redis.get(key);
  return raw ? { record: JSON.parse(raw), raw } : null;
}

/** Stores `json` under `key` expiring in `ttl` ms (SET PX), or removes the key when `ttl` is not above 0. */
export async function writeSession(redis: RedisCommands, key: string, json: string, ttl: number): Promise<void> {
  await (ttl > 0 ? redis.set(key, json, { expiration: { type: 'PX', value: ttl } }) : redis.del(key));
}

/**
 * Does what `writeSession` does, in one Lua script, only if the stored JSON is still `revision` (compared by
 * SHA-1 inside Redis); otherwise says the key is gone or hands back the stored JSON.
 */
export async function writeSessionIf(
  redis: RedisCommands,
  key: string,
  json: string,
  revision: string,
  ttl: number,
): Promise<SetIfResult> {
  const args = { keys: [key], arguments: [sha1(revision), json, String(Math.max(0, ttl))] };
  const reply = await redis.evalSha(SET_IF_SHA, args).catch((err: unknown) => {
    // The script is not in this server's cache yet (first use, restart): EVAL loads it.
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return redis.eval(SET_IF_SCRIPT, args);
    throw err;
  });
  if (reply === 1) return { status: 'written', revision: json };
  if (reply === 0 || reply === null) return { status: 'gone' };
  const latest = String(reply);
  return { status: 'changed', latest: JSON.parse(latest), revision: latest };
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}
