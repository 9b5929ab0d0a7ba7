import { createHash } from 'node:crypto';
import type { SessionData } from 'express-session';
import { cookieExpiry } from './changed-key-writes.js';
import type { RecordWrite } from './changed-key-writes.js';
import { serialise } from './session-record.js';

/** Arguments of a script call, as node-redis takes them. */
interface ScriptArguments {
  keys: string[];
  arguments: string[];
}

/**
 * The node-redis commands the store sends: to a `createClient()` client, a `createSentinel()` client (which sends
 * them to the master), or a `createCluster()` client (which routes each by its one key).
 */
export interface RedisCommands {
  hGetAll(key: string): Promise<Record<string, string>>;
  get(key: string): Promise<string | null>;
  del(key: string): Promise<unknown>;
  pExpire(key: string, ms: number): Promise<unknown>;
  evalSha(sha: string, options: ScriptArguments): Promise<unknown>;
  eval(script: string, options: ScriptArguments): Promise<unknown>;
  /** A client's, or a cluster node's; a sentinel client has only `scan`. */
  scanIterator?(options: ScanOptions): AsyncIterable<string[] | string>;
  scan?(cursor: string, options: ScanOptions): Promise<{ cursor: string | number; keys: string[] }>;
}

interface ScanOptions {
  MATCH: string;
  COUNT: number;
}

/**
 * Applies a change to a session's hash in one step. KEYS[1]: the session. ARGV[1]: the new lifetime in ms
 * (not above 0: the key is removed); ARGV[2]: how many field/value pairs follow to set; then the pairs; then
 * the fields to remove. Returns 1 when applied, 0 when the key does not exist (nothing is written), -1 when it
 * holds a JSON string (a connect-redis record, converted by the caller).
 */
const PATCH = `local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'none' then return 0 end
if kind ~= 'hash' then return -1 end
local n = tonumber(ARGV[2])
for i = 3, 2 + 2 * n, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
for i = 3 + 2 * n, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
local ttl = tonumber(ARGV[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('DEL', KEYS[1]) end
return 1`;

/**
 * Replaces a session's key by a hash. ARGV[1]: the lifetime in ms; ARGV[2]: '' to replace whatever is there,
 * or the SHA-1 of the JSON string the key must still hold (a connect-redis record being converted); then the
 * field/value pairs. Returns 1 when written, 0 when the key no longer holds that string.
 */
const REPLACE = `if ARGV[2] ~= '' then
  local current = redis.call('GET', KEYS[1])
  if not current or redis.sha1hex(current) ~= ARGV[2] then return 0 end
end
redis.call('DEL', KEYS[1])
local ttl = tonumber(ARGV[1])
if ttl <= 0 then return 1 end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], ttl)
return 1`;

const SCRIPT_SHA = new Map([PATCH, REPLACE].map((script) => [script, sha1(script)]));

/**
 * How redisStore() keeps sessions: one hash per session under `prefix + id`, a field per top-level key of the
 * session holding that value's JSON (the cookie among them), expiring with the cookie to the millisecond. A
 * change is one script that sets and removes only its own fields, so concurrent requests on one session never
 * conflict, and a key that is gone (logged out, expired) is never written again. Records connect-redis wrote
 * (one JSON string per key) are read as they are and turned into a hash at their first change. Internal.
 */
export class RedisSessions {
  constructor(
    private readonly redis: RedisCommands,
    readonly prefix: string,
    private readonly defaultTtl: number,
  ) {}

  /** The session under `sid` (one HGETALL), or null. A record that cannot be parsed is returned as its text. */
  async get(sid: string): Promise<unknown> {
    const key = this.prefix + sid;
    let fields: Record<string, string>;
    try {
      fields = await this.redis.hGetAll(key);
    } catch (err) {
      if (!isWrongType(err)) throw err;
      const text = await this.redis.get(key);
      return text === null ? null : parseOr(text);
    }
    const entries = Object.entries(fields);
    if (entries.length === 0) return null;
    let json = '{';
    for (const [field, value] of entries) json += `${json.length > 1 ? ',' : ''}${JSON.stringify(field)}:${value}`;
    return parseOr(json + '}');
  }

  /** Stores a whole session, replacing whatever the key held. */
  async replace(sid: string, write: RecordWrite): Promise<void> {
    await this.script(REPLACE, this.prefix + sid, [String(this.ttl(write)), '', ...pairs(write)]);
  }

  /** Applies a change to the stored session in one step; false when there is none (nothing is written). */
  async patch(sid: string, write: RecordWrite): Promise<boolean> {
    const key = this.prefix + sid;
    // A connect-redis record changes into a hash at most once; a second writer converting it meanwhile means
    // the key is a hash by the next try.
    for (let attempt = 0; attempt < 3; attempt++) {
      const setPairs = pairs(write);
      const args = [String(this.ttl(write)), String(setPairs.length / 2), ...setPairs, ...write.unset];
      const reply = await this.script(PATCH, key, args);
      if (reply !== -1) return reply === 1;
      if (await this.convert(key, write)) return true;
    }
    throw new Error('redisStore(): a session record kept changing its type while it was converted to a hash');
  }

  /** Stores a session object (express-session's `set`). */
  async set(sid: string, session: SessionData): Promise<void> {
    await this.replace(sid, {
      set: serialise(session),
      unset: [],
      cookie: JSON.stringify(session.cookie),
      expires: cookieExpiry(session.cookie),
    });
  }

  /** Extends the key's expiry to the cookie's (one PEXPIRE); the stored session is not rewritten. */
  async touch(sid: string, session: SessionData): Promise<void> {
    const ttl = this.ttl({ expires: cookieExpiry(session.cookie) });
    await (ttl > 0 ? this.redis.pExpire(this.prefix + sid, ttl) : this.redis.del(this.prefix + sid));
  }

  async destroy(sid: string): Promise<void> {
    await this.redis.del(this.prefix + sid);
  }

  /** The ids of every stored session (SCAN on every master of a cluster). */
  async ids(): Promise<string[]> {
    const ids = new Set<string>();
    const options = { MATCH: `${escapeGlob(this.prefix)}*`, COUNT: 100 };
    for (const node of await scanned(this.redis)) {
      for await (const batch of scan(node, options)) {
        for (const key of Array.isArray(batch) ? batch : [batch]) ids.add(key.slice(this.prefix.length));
      }
    }
    return [...ids];
  }

  /** Milliseconds until a write's session expires: its cookie's expiry, else the store's `ttl`. */
  private ttl(write: Pick<RecordWrite, 'expires'>): number {
    return write.expires === undefined ? this.defaultTtl : write.expires - Date.now();
  }

  /** Turns a connect-redis JSON record into a hash with `write` applied; false when it changed meanwhile. */
  private async convert(key: string, write: RecordWrite): Promise<boolean> {
    const text = await this.redis.get(key);
    if (text === null) return false;
    const fields = serialise(JSON.parse(text) as object);
    for (const [field, value] of write.set) fields.set(field, value);
    for (const field of write.unset) fields.delete(field);
    const args = [String(this.ttl(write)), sha1(text), ...pairs({ set: fields, cookie: write.cookie })];
    return (await this.script(REPLACE, key, args)) === 1;
  }

  private script(script: string, key: string, args: string[]): Promise<unknown> {
    const options = { keys: [key], arguments: args };
    return this.redis.evalSha(SCRIPT_SHA.get(script)!, options).catch((err: unknown) => {
      // The script is not in this server's cache yet (first use, restart, failover): EVAL loads it.
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return this.redis.eval(script, options);
      throw err;
    });
  }
}

/** The record's fields as a flat list of field/value pairs, the cookie first. */
function pairs(write: Pick<RecordWrite, 'set' | 'cookie'>): string[] {
  const list = ['cookie', write.cookie];
  for (const [field, value] of write.set) if (field !== 'cookie') list.push(field, value);
  return list;
}

/** The clients to SCAN: each master of a cluster client, else the client itself. */
async function scanned(redis: RedisCommands): Promise<RedisCommands[]> {
  const cluster = redis as unknown as {
    masters?: unknown[];
    nodeClient?: (node: unknown) => RedisCommands | Promise<RedisCommands>;
  };
  if (!Array.isArray(cluster.masters) || typeof cluster.nodeClient !== 'function') return [redis];
  return Promise.all(cluster.masters.map(async (master) => cluster.nodeClient!(master)));
}

/** The keys `options` match on one server, in batches. */
async function* scan(node: RedisCommands, options: ScanOptions): AsyncIterable<string[] | string> {
  if (node.scanIterator) {
    yield* node.scanIterator(options);
    return;
  }
  let cursor = '0';
  do {
    const reply = await node.scan!(cursor, options);
    cursor = String(reply.cursor);
    yield reply.keys;
  } while (cursor !== '0');
}

/** The parsed record, or its text when it is not JSON (the module then treats it as corrupt and replaces it). */
function parseOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function isWrongType(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('WRONGTYPE');
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}
