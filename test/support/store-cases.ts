import { createClient } from 'redis';
import { RedisStore } from 'connect-redis';
import { FaultStore } from './fault-store.js';

/** A store a suite runs against, with the fault-injecting wrapper over it. */
export interface StoreCase {
  name: string;
  /** Why the case cannot run here, if it cannot. */
  skip?: string;
  create(): Promise<{ store: FaultStore; close(): Promise<void> }>;
}

let prefixes = 0;

/** The embedded store always; Redis when REDIS_URL points at one (npm test starts one). */
export function storeCases(): StoreCase[] {
  const url = process.env.REDIS_URL;
  return [
    {
      name: 'embedded store',
      create: async () => ({ store: new FaultStore(), close: async () => undefined }),
    },
    {
      name: 'Redis',
      skip: url ? undefined : 'REDIS_URL is not set (npm test starts a Redis when redis-server is installed)',
      create: async () => {
        const client = createClient({ url });
        client.on('error', () => undefined);
        await client.connect();
        const prefix = `test:${process.pid}:${++prefixes}:`;
        const store = new FaultStore(new RedisStore({ client, prefix }));
        return {
          store,
          close: async () => {
            await client.close();
          },
        };
      },
    },
  ];
}
