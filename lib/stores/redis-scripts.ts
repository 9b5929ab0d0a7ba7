import { createHash } from 'node:crypto';
import type { RecordWrite } from './changed-key-writes.js';

// The Lua scripts redisStore() runs (one per change) and their arguments; the store itself is in
// redis-sessions.ts. Internal.

/**
 * Applies a change to a session's hash in one step. KEYS[1]: the session. ARGV[1]: the new lifetime in ms
 * (not above 0: the key is removed); ARGV[2]: how many field/value pairs follow to set; then the pairs; then
 * the fields to remove. Returns 1 when applied, 0 when the key does not exist (nothing is written), -1 when it
 * holds a JSON string (a connect-redis record, converted by the caller). PEXPIRE answers 0 for a missing key,
 * so it is the existence check too; the type is learnt from HSET's WRONGTYPE rather than asked with TYPE. Fields
 * go in one HSET and one HDEL (by 500 pairs: Lua's unpack has a limit), so Redis runs three commands, not one
 * per field.
 */
export const PATCH = `local ttl = tonumber(ARGV[1])
if ttl <= 0 then return redis.call('DEL', KEYS[1]) end
if redis.call('PEXPIRE', KEYS[1], ttl) == 0 then return 0 end
local last = 2 + 2 * tonumber(ARGV[2])
for i = 3, last, 1000 do
  local reply = redis.pcall('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, last)))
  if type(reply) == 'table' and reply.err then
    if string.find(reply.err, 'WRONGTYPE', 1, true) then return -1 end
    return reply
  end
end
for i = last + 1, #ARGV, 1000 do redis.call('HDEL', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV))) end
return 1`;

/**
 * Replaces a session's key by a hash. ARGV[1]: the lifetime in ms; ARGV[2]: '' to replace whatever is there,
 * or the SHA-1 of the JSON string the key must still hold (a connect-redis record being converted); then the
 * field/value pairs. Returns 1 when written, 0 when the key no longer holds that string.
 */
export const REPLACE = `if ARGV[2] ~= '' then
  local current = redis.call('GET', KEYS[1])
  if not current or redis.sha1hex(current) ~= ARGV[2] then return 0 end
end
redis.call('DEL', KEYS[1])
local ttl = tonumber(ARGV[1])
if ttl <= 0 then return 1 end
for i = 3, #ARGV, 1000 do redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV))) end
redis.call('PEXPIRE', KEYS[1], ttl)
return 1`;

/** Each script's SHA-1, for EVALSHA. */
export const SCRIPT_SHA = new Map([PATCH, REPLACE].map((script) => [script, sha1(script)]));
/** PATCH's SHA-1 (every change sends it). */
export const PATCH_SHA = SCRIPT_SHA.get(PATCH)!;

/** PATCH's arguments: the lifetime, the number of pairs, the pairs (the cookie first), the fields to remove. */
export function patchArguments(ttl: number, write: RecordWrite): string[] {
  const fields = write.set.size - (write.set.has('cookie') ? 1 : 0);
  // Sized up front: an array grown by push allocates more than it keeps, on every change.
  const args = new Array<string>(4 + 2 * fields + write.unset.length);
  args[0] = String(ttl);
  args[1] = String(fields + 1);
  args[2] = 'cookie';
  args[3] = write.cookie;
  let i = 4;
  for (const [field, value] of write.set) {
    if (field === 'cookie') continue;
    args[i++] = field;
    args[i++] = value;
  }
  for (const field of write.unset) args[i++] = field;
  return args;
}

/** The record's fields as a flat list of field/value pairs, the cookie first. */
export function pairs(write: Pick<RecordWrite, 'set' | 'cookie'>): string[] {
  const list = ['cookie', write.cookie];
  for (const [field, value] of write.set) if (field !== 'cookie') list.push(field, value);
  return list;
}

/** The SHA-1 of a text, in hex (as Redis names scripts). */
export function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}
