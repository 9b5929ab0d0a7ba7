import expressSession from 'express-session';
import type { SessionData, Store } from 'express-session';
import connectPgSimple from 'connect-pg-simple';
import { RedisStore } from 'connect-redis';
import pg from 'pg';
import { createClient } from 'redis';
import { EmbeddedStore, postgresStore, redisStore } from 'nest-express-session';
import { DATABASE_URL, REDIS_URL, skipWithout, uniqueName } from './env.js';

/** A store made for one test, and how to get rid of what the test left in it. */
export interface StoreInstance {
  /** The store to give `session.store`; undefined: the module's default (embedded) store. */
  store: Store | undefined;
  /** Frees what the test made (a user-made store is closed by the user, not by the module). */
  dispose(): Promise<void>;
}

/** One kind of store the behaviour suites run against. */
export interface StoreKind {
  name: string;
  /** A reason to skip (the server is not available), or false. */
  skip: string | false;
  /** A fresh, empty store. `explicit`: always a store instance, never the module's default. */
  create(explicit?: boolean): Promise<StoreInstance>;
}

const nothing = async (): Promise<void> => undefined;

/** Every store the module supports: the embedded default, Redis, and PostgreSQL through the helper and directly. */
export const storeKinds: StoreKind[] = [
  {
    name: 'embedded',
    skip: false,
    create: async (explicit) => {
      if (!explicit) return { store: undefined, dispose: nothing };
      const store = new EmbeddedStore();
      return { store, dispose: async () => store.close() };
    },
  },
  {
    name: 'redis (redisStore({ url }))',
    skip: skipWithout('REDIS_URL'),
    create: async () => {
      // app.close() closes it when it is the app's store; close() again is a no-op. Keys go away with their TTL.
      const store = redisStore({ url: REDIS_URL!, prefix: `${uniqueName('test')}:` });
      return { store, dispose: () => store.close() };
    },
  },
  {
    name: 'redis (connect-redis used directly)',
    skip: skipWithout('REDIS_URL'),
    create: async () => {
      // The plain recipe: the app makes, connects and closes the client.
      const client = createClient({ url: REDIS_URL });
      client.on('error', () => undefined);
      await client.connect();
      const store = new RedisStore({ client, prefix: `${uniqueName('direct')}:` });
      return { store, dispose: async () => client.destroy() };
    },
  },
  {
    name: 'postgresql (postgresStore({ connectionString }))',
    skip: skipWithout('DATABASE_URL'),
    create: async () => {
      const tableName = uniqueName('session');
      const store = postgresStore({ connectionString: DATABASE_URL!, tableName });
      return {
        store,
        dispose: async () => {
          await store.close();
          await dropTable(tableName);
        },
      };
    },
  },
  {
    name: 'postgresql (connect-pg-simple used directly)',
    skip: skipWithout('DATABASE_URL'),
    create: async () => {
      // The plain recipe: the app makes the store (and so closes it); the table is created on first use.
      const schemaName = uniqueName('s');
      await withPool((pool) => pool.query(`CREATE SCHEMA ${schemaName}`));
      const PGStore = connectPgSimple(expressSession);
      const store = new PGStore({ conString: DATABASE_URL, schemaName, createTableIfMissing: true });
      return {
        store,
        dispose: async () => {
          await store.close();
          await withPool((pool) => pool.query(`DROP SCHEMA ${schemaName} CASCADE`));
        },
      };
    },
  },
];

/** Runs `use` with a short-lived pool on the test database. */
export async function withPool<T>(use: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
  try {
    return await use(pool);
  } finally {
    await pool.end();
  }
}

function dropTable(tableName: string): Promise<void> {
  return withPool(async (pool) => {
    await pool.query(`DROP TABLE IF EXISTS "${tableName}"`);
  });
}

/** A store's record, read through its own `get` (what the store holds); null when there is none. */
export function peek(store: Store, sid: string): Promise<SessionData | null> {
  return new Promise((resolve, reject) => store.get(sid, (err, sess) => (err ? reject(err) : resolve(sess ?? null))));
}
