import { sha1 } from './redis-scripts.js';
import type { AddOutcome, IndexEntry, LimitMode, SessionIndex } from '../controls/session-index.js';

/** The node-redis commands the index sends (a client, a sentinel client or a cluster client). */
export interface IndexCommands {
  hGetAll(key: string): Promise<Record<string, string>>;
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/**
 * Adds an entry under a limit, in one step. KEYS[1]: the user's index. ARGV: now, handle, entry JSON, limit
 * (0: none), mode. Drops expired entries, then refuses ({0}) or evicts the least recently used others and adds
 * ({1, evicted JSON...}). The key expires with its longest-lived entry, so a user whose sessions all expired
 * leaves nothing behind.
 */
const ADD = `local now = tonumber(ARGV[1])
local all = redis.call('HGETALL', KEYS[1])
local others = {}
local last = 0
for i = 1, #all, 2 do
  local e = cjson.decode(all[i + 1])
  if e.keepUntil <= now then redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] ~= ARGV[2] then table.insert(others, {all[i], e.lastSeenAt, all[i + 1], e.keepUntil}) end
end
local limit = tonumber(ARGV[4])
local evicted = {1}
if limit > 0 and #others >= limit then
  if ARGV[5] == 'refuse' then return {0} end
  table.sort(others, function(a, b) if a[2] == b[2] then return a[1] < b[1] end return a[2] < b[2] end)
  for i = 1, #others - limit + 1 do
    redis.call('HDEL', KEYS[1], others[i][1])
    table.insert(evicted, others[i][3])
    others[i][4] = 0
  end
end
local entry = cjson.decode(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
last = entry.keepUntil
for _, o in ipairs(others) do if o[4] > last then last = o[4] end end
redis.call('PEXPIREAT', KEYS[1], math.floor(last))
return evicted`;

/**
 * Records a use. KEYS[1]: the user's index. ARGV: handle, lastSeenAt, expiresAt ('' for none), keepUntil. Only an
 * entry that exists is changed; the key's expiry is only ever pushed later.
 */
const SEEN = `local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local e = cjson.decode(v)
e.lastSeenAt = tonumber(ARGV[2])
if ARGV[3] == '' then e.expiresAt = cjson.null else e.expiresAt = tonumber(ARGV[3]) end
e.keepUntil = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(e))
if redis.call('PEXPIRETIME', KEYS[1]) < e.keepUntil then redis.call('PEXPIREAT', KEYS[1], math.floor(e.keepUntil)) end
return 1`;

/**
 * Removes entries. KEYS[1]: the user's index. ARGV[1]: 'some' (then the handles) or 'all' (then the handle
 * to keep, or ''). Returns the removed entries' JSON.
 */
const REMOVE = `local removed = {}
if ARGV[1] == 'some' then
  for i = 2, #ARGV do
    local v = redis.call('HGET', KEYS[1], ARGV[i])
    if v then redis.call('HDEL', KEYS[1], ARGV[i]); table.insert(removed, v) end
  end
else
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if all[i] ~= ARGV[2] then redis.call('HDEL', KEYS[1], all[i]); table.insert(removed, all[i + 1]) end
  end
end
return removed`;

const SHA = new Map([ADD, SEEN, REMOVE].map((s) => [s, sha1(s)]));

/**
 * redisStore()'s per-user index: one hash per user under `prefix + 'user:{' + user + '}'` (the braces make it a
 * Redis Cluster hash tag: every script touches that one key, so it runs on one node), a field per session
 * handle holding the entry as JSON. Each change is one script, so parallel logins of a user are serialised by
 * Redis itself. Sessions live in other slots: the caller removes an evicted or revoked session's key after the
 * script took its entry out (internal).
 */
export class RedisIndex implements SessionIndex {
  constructor(
    private readonly redis: () => Promise<IndexCommands>,
    private readonly prefix: string,
  ) {}

  async add(entry: IndexEntry, limit: number | undefined, mode: LimitMode): Promise<AddOutcome> {
    const args = [String(Date.now()), entry.handle, JSON.stringify(entry), String(limit ?? 0), mode];
    const reply = (await this.script(ADD, this.key(String(entry.userId)), args)) as unknown[];
    if (Number(reply[0]) !== 1) return { refused: true, evicted: [] };
    return { refused: false, evicted: reply.slice(1).map((json) => JSON.parse(String(json)) as IndexEntry) };
  }

  async seen(
    userKey: string,
    handle: string,
    lastSeenAt: number,
    expiresAt: number | null,
    keepUntil: number,
  ): Promise<void> {
    const args = [handle, String(lastSeenAt), expiresAt === null ? '' : String(expiresAt), String(keepUntil)];
    await this.script(SEEN, this.key(userKey), args);
  }

  async list(userKey: string): Promise<IndexEntry[]> {
    const all = await (await this.redis()).hGetAll(this.key(userKey));
    const now = Date.now();
    return Object.values(all)
      .map((json) => JSON.parse(json) as IndexEntry)
      .filter((entry) => entry.keepUntil > now);
  }

  async remove(userKey: string, which: { handles: string[] } | { except?: string }): Promise<IndexEntry[]> {
    const args = 'handles' in which ? ['some', ...which.handles] : ['all', which.except ?? ''];
    const reply = (await this.script(REMOVE, this.key(userKey), args)) as unknown[];
    const now = Date.now();
    return reply.map((json) => JSON.parse(String(json)) as IndexEntry).filter((entry) => entry.keepUntil > now);
  }

  private key(userKey: string): string {
    // Braces inside the user key would end the hash tag early; they are escaped so every user has one slot.
    return `${this.prefix}user:{${userKey.replace(/[{}%]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)}}`;
  }

  private async script(script: string, key: string, args: string[]): Promise<unknown> {
    const redis = await this.redis();
    const options = { keys: [key], arguments: args };
    return redis.evalSha(SHA.get(script)!, options).catch((err: unknown) => {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return redis.eval(script, options);
      throw err;
    });
  }
}
