import type { SessionData } from 'express-session';
import { cookieExpiry } from './changed-key-writes.js';
import type { RecordWrite } from './changed-key-writes.js';
import { ownValue, serialise } from './session-record.js';
import { pairs, PATCH, PATCH_SHA, patchArguments, REPLACE, SCRIPT_SHA, sha1 } from './redis-scripts.js';

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

  /**
   * The session under `sid` (one HGETALL), or null. A record that cannot be parsed is returned as its text.
   * Promise chains rather than async functions on the paths every request takes: fewer promises per request.
   */
  get(sid: string): Promise<unknown> {
    const key = this.prefix + sid;
    return this.redis.hGetAll(key).then(fromFields, async (err: unknown) => {
      if (!isWrongType(err)) throw err;
      const text = await this.redis.get(key);
      return text === null ? null : parseOr(text);
    });
  }

  /** Stores a whole session, replacing whatever the key held. */
  async replace(sid: string, write: RecordWrite): Promise<void> {
    await this.script(REPLACE, this.prefix + sid, [String(this.ttl(write)), '', ...pairs(write)]);
  }

  /** Applies a change to the stored session in one step; false when there is none (nothing is written). */
  patch(sid: string, write: RecordWrite): Promise<boolean> {
    return this.patchKey(this.prefix + sid, write, 1);
  }

  private patchKey(key: string, write: RecordWrite, attempt: number): Promise<boolean> {
    const options = { keys: [key], arguments: patchArguments(this.ttl(write), write) };
    const applied = (reply: unknown): boolean | Promise<boolean> =>
      reply === -1 ? this.converted(key, write, attempt) : reply === 1;
    return this.redis
      .evalSha(PATCH_SHA, options)
      .then(applied, (err: unknown) => this.unlessNoScript(err, PATCH, options).then(applied));
  }

  /** After PATCH found a connect-redis record: converts it, or tries the patch again if it changed meanwhile. */
  private async converted(key: string, write: RecordWrite, attempt: number): Promise<boolean> {
    if (await this.convert(key, write)) return true;
    // A connect-redis record changes into a hash at most once; a second writer converting it meanwhile means
    // the key is a hash by the next try.
    if (attempt < 3) return this.patchKey(key, write, attempt + 1);
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

  /**
   * The ids of every stored session (SCAN on every master of a cluster). The per-user index's keys share the
   * prefix (`<prefix>user:{...}`, see RedisIndex) and are not sessions: a generated session id never holds `{`.
   */
  async ids(): Promise<string[]> {
    const ids = new Set<string>();
    const options = { MATCH: `${escapeGlob(this.prefix)}*`, COUNT: 100 };
    const index = `${this.prefix}user:{`;
    for (const node of await scanned(this.redis)) {
      for await (const batch of scan(node, options)) {
        for (const key of Array.isArray(batch) ? batch : [batch]) {
          if (!key.startsWith(index)) ids.add(key.slice(this.prefix.length));
        }
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
    return this.redis
      .evalSha(SCRIPT_SHA.get(script)!, options)
      .catch((err: unknown) => this.unlessNoScript(err, script, options));
  }

  /** The script is not in this server's cache yet (first use, restart, failover): EVAL loads it. */
  private async unlessNoScript(err: unknown, script: string, options: ScriptArguments): Promise<unknown> {
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return this.redis.eval(script, options);
    throw err;
  }
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

/**
 * The session a hash holds (null when empty), each field parsed on its own: cheaper than joining them into one
 * JSON text to parse. A field that is not JSON makes the whole record its text, as one text that cannot be
 * parsed would be (the module then treats it as corrupt and replaces it).
 */
function fromFields(fields: Record<string, string>): unknown {
  const record: Record<string, unknown> = {};
  let empty = true;
  for (const field in fields) {
    empty = false;
    let value: unknown;
    try {
      value = JSON.parse(fields[field]);
    } catch {
      return joined(fields);
    }
    // An assignment to `__proto__` would set the record's prototype: a field of that name stays a value.
    if (field === '__proto__') ownValue(record, field, value);
    else record[field] = value;
  }
  return empty ? null : record;
}

/** The hash's fields as the text of one JSON object (values are JSON already). */
function joined(fields: Record<string, string>): string {
  let json = '{';
  for (const field in fields) json += `${json.length > 1 ? ',' : ''}${JSON.stringify(field)}:${fields[field]}`;
  return json + '}';
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
