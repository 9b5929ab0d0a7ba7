import expressSession from 'express-session';
import type { SessionData, Store } from 'express-session';
import connectPgSimple from 'connect-pg-simple';
import { RedisStore } from 'connect-redis';
import pg from 'pg';
import { createClient } from 'redis';
import { EmbeddedStore, postgresStore, redisStore, sqliteStore } from 'nest-express-session';
import { defer } from './cleanup.js';
import type { Cleanup } from './cleanup.js';
import { DATABASE_URL, REDIS_URL, skipWithout, uniqueName } from './env.js';
import { asError } from './errors.js';
import { FaultStore } from './fault-store.js';
import { skipWithoutSqlite, tempDatabase } from './sqlite.js';

/** One kind of store the suites run against. */
export interface StoreKind {
  /** Its precise name: "session behaviour on the <name> store". */
  name: string;
  /** The server behind it, as the reliability suites name it: "concurrency on the <family>". */
  family: string;
  /** A reason to skip (the server is not available), or false. */
  skip: string | false;
  /** The store the module uses when given none (suites may leave `session.store` unset for it). */
  isDefault: boolean;
  /** A fresh, empty store, removed with what the test left in it when the test (or suite) `t` ends. */
  create(t: Cleanup): Promise<Store>;
}

const embedded: StoreKind = {
  name: 'embedded',
  family: 'embedded store',
  skip: false,
  isDefault: true,
  create: (t) => {
    const store = new EmbeddedStore();
    defer(t, () => store.close());
    return Promise.resolve(store);
  },
};

const memory: StoreKind = {
  name: "memory (express-session's MemoryStore)",
  family: 'MemoryStore (read-then-merge path)',
  skip: false,
  isDefault: false,
  // A store the module does not ship: its writes take the read-then-merge path. Nothing to close.
  create: () => Promise.resolve(new expressSession.MemoryStore()),
};

const redisHelper: StoreKind = {
  name: 'redis (redisStore({ url }))',
  family: 'Redis',
  skip: skipWithout('REDIS_URL'),
  isDefault: false,
  create: (t) => {
    // app.close() closes it when it is the app's store; close() again is a no-op. Keys go away with their TTL.
    const store = redisStore({ url: REDIS_URL!, prefix: `${uniqueName('test')}:` });
    defer(t, () => store.close());
    return Promise.resolve(store);
  },
};

const connectRedis: StoreKind = {
  name: 'redis (connect-redis used directly)',
  family: 'Redis',
  skip: skipWithout('REDIS_URL'),
  isDefault: false,
  create: async (t) => {
    // The plain recipe: the app makes, connects and closes the client.
    const client = createClient({ url: REDIS_URL });
    client.on('error', () => undefined);
    await client.connect();
    defer(t, () => client.destroy());
    return new RedisStore({ client, prefix: `${uniqueName('direct')}:` });
  },
};

const postgresHelper: StoreKind = {
  name: 'postgresql (postgresStore({ connectionString }))',
  family: 'PostgreSQL',
  skip: skipWithout('DATABASE_URL'),
  isDefault: false,
  create: (t) => {
    const tableName = uniqueName('session');
    const store = postgresStore({ connectionString: DATABASE_URL!, tableName });
    defer(t, async () => {
      await store.close();
      await withPool((pool) => pool.query(`DROP TABLE IF EXISTS "${tableName}", "${tableName}_users"`));
    });
    return Promise.resolve(store);
  },
};

const connectPg: StoreKind = {
  name: 'postgresql (connect-pg-simple used directly)',
  family: 'PostgreSQL',
  skip: skipWithout('DATABASE_URL'),
  isDefault: false,
  create: async (t) => {
    // The plain recipe: the app makes the store (and so closes it); the table is created on first use.
    const schemaName = uniqueName('s');
    await withPool((pool) => pool.query(`CREATE SCHEMA ${schemaName}`));
    const PGStore = connectPgSimple(expressSession);
    const store = new PGStore({ conString: DATABASE_URL, schemaName, createTableIfMissing: true });
    defer(t, async () => {
      // connect-pg-simple 10's close() is async (it ends the pool it made); @types/connect-pg-simple says void.
      await (store.close() as unknown as Promise<void>);
      await withPool((pool) => pool.query(`DROP SCHEMA ${schemaName} CASCADE`));
    });
    return store;
  },
};

const sqliteHelper: StoreKind = {
  name: 'sqlite (sqliteStore({ path }))',
  family: 'SQLite',
  skip: skipWithoutSqlite(),
  isDefault: false,
  create: (t) => {
    // A fresh file per test, removed (after the store is closed) when the test ends.
    const store = sqliteStore({ path: tempDatabase(t) });
    defer(t, () => store.close());
    return Promise.resolve(store);
  },
};

/**
 * Every store the module supports: the embedded default, express-session's MemoryStore, Redis and PostgreSQL
 * (through the helper and directly), and SQLite.
 */
export const storeKinds: StoreKind[] = [
  embedded,
  memory,
  redisHelper,
  connectRedis,
  postgresHelper,
  connectPg,
  sqliteHelper,
];

/** The stores with a per-user index of sessions (SessionRegistry): the embedded store and the helpers. */
export const indexedStoreKinds: StoreKind[] = [embedded, redisHelper, postgresHelper, sqliteHelper];

/** The stores the reliability suites inject faults into: the embedded store, and Redis through connect-redis. */
export const reliabilityStoreKinds: StoreKind[] = [embedded, connectRedis];

/** A `FaultStore` over a fresh store of this kind (see `StoreKind.create`). */
export async function faultStore(t: Cleanup, kind: StoreKind): Promise<FaultStore> {
  return new FaultStore(await kind.create(t));
}

/** Runs `use` with a short-lived pool on the test database. */
export async function withPool<T>(use: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
  try {
    return await use(pool);
  } finally {
    await pool.end();
  }
}

/** A store's record, read through its own `get` (what the store holds); null when there is none. */
export function peek(store: Store, sid: string): Promise<SessionData | null> {
  return new Promise((resolve, reject) =>
    store.get(sid, (err, sess) => (err ? reject(asError(err)) : resolve(sess ?? null))),
  );
}
