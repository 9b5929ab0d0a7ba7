import type { RedisClientLike } from '../interfaces/redis-store-options.interface.js';
import { topologyOf } from './redis-client.js';

/**
 * How often a cluster client whose master is unreachable asks the cluster for its slots again, to find the
 * replica promoted in its place (node-redis 5 asks only when a server answers MOVED, which a dead one never does).
 */
const CLUSTER_REFRESH_EVERY = 500;
/** How often the store looks whether a sentinel client has a master (it reports a lost master on no event). */
const SENTINEL_POLL_EVERY = 200;

/** Reports a change of the connection's state: up, or down and why. */
export type ReportState = (up: boolean, err?: unknown) => void;

/** A client's connection followed by the store. */
export interface ConnectionWatch {
  /** Resolves when the first connection attempt has succeeded or failed (undefined: it already has). */
  readonly firstAttempt: Promise<void> | undefined;
  /** Removes the listeners and timers. */
  stop(): void;
}

/** A cluster node, as the cluster client lists its masters. */
interface ClusterNode {
  client?: { readonly isReady?: boolean };
}

/** The members of a cluster client (`createCluster()`) the store reads. */
interface ClusterClientLike extends RedisClientLike {
  readonly masters: ClusterNode[];
  /** The master (and replicas) of each of the 16384 slots, as the client knows them. */
  readonly slots?: unknown[];
  readonly _options?: { rootNodes?: unknown[] };
  /** node-redis's slot map; `rediscover(client)` asks a node (else the root nodes) for the slots again. */
  readonly _slots?: { rediscover?: (startWith: unknown) => Promise<void> };
}

/** The members of a sentinel client (`createSentinel()`) the store reads. */
interface SentinelClientLike extends RedisClientLike {
  /** The master's address while a connection to it is ready, else undefined. */
  getMasterNode: () => unknown;
}

/**
 * Follows a client's connection and reports when it goes down and comes back, so that the store can emit
 * `disconnect` and `connect`. `connecting`: the store is about to connect the client itself (else the client
 * was given, connected or not).
 *
 * - A client is down from a connection error until it is ready again.
 * - A cluster client is down only while none of its masters can be reached: when one master dies, the
 *   sessions on the other masters are still served, and those on the dead one fail (a 503 each) until its
 *   replica takes over; meanwhile the slots are asked for again every {@link CLUSTER_REFRESH_EVERY} ms.
 * - A sentinel client is down while it has no ready connection to a master: from the master's death until the
 *   sentinels have promoted its replica and the client has connected to it.
 */
export function watchConnection(client: RedisClientLike, connecting: boolean, report: ReportState): ConnectionWatch {
  const subscriptions: [string, (...args: any[]) => void][] = [];
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let attempted!: () => void;
  let attemptEnded = false;
  const firstAttempt = new Promise<void>((resolve) => {
    attempted = () => {
      attemptEnded = true;
      resolve();
    };
  });
  const on = (event: string, listener: (...args: any[]) => void): void => {
    client.on(event, listener);
    subscriptions.push([event, listener]);
  };
  const later = (task: () => void, ms: number): void => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(task, ms).unref();
  };
  const context = { on, report, attempted, later, hasAttempted: () => attemptEnded };
  const topology = topologyOf(client);
  const settled =
    topology === 'cluster'
      ? watchCluster(client as ClusterClientLike, context)
      : topology === 'sentinel'
        ? watchSentinel(client as SentinelClientLike, context)
        : watchClient(client, context);
  // A given client that is connected, or that the app never connected (each call then says so), has no
  // first attempt to wait for.
  if (!connecting && (settled || client.isOpen === false)) attempted();
  return {
    firstAttempt: attemptEnded ? undefined : firstAttempt,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      for (const [event, listener] of subscriptions) client.off?.(event, listener);
    },
  };
}

interface WatchContext {
  on: (event: string, listener: (...args: any[]) => void) => void;
  report: ReportState;
  attempted: () => void;
  /** Runs `task` in `ms` (unless the watch stopped), instead of what was to run next. */
  later: (task: () => void, ms: number) => void;
  hasAttempted: () => boolean;
}

/** A `createClient()` client; true when it is connected already. */
function watchClient(client: RedisClientLike, { on, report, attempted }: WatchContext): boolean {
  on('ready', () => {
    attempted();
    report(true);
  });
  // An error on a connection that is still ready (a bad reply, say) is not a disconnect.
  on('error', (err: unknown) => {
    if (client.isReady) return;
    attempted();
    report(false, err);
  });
  on('end', () => {
    attempted();
    report(false);
  });
  if (client.isReady) report(true);
  return client.isReady === true;
}

/** A `createCluster()` client; true when it is connected already. */
function watchCluster(cluster: ClusterClientLike, context: WatchContext): boolean {
  const { on, report, attempted, later } = context;
  const ready = (node: ClusterNode): boolean => node.client?.isReady === true;
  let connected = cluster.isOpen === true;
  let refreshing = false;
  // Whether the client knows a master for every slot (it may have asked a node before the cluster was formed).
  const covered = (): boolean => {
    const slots = cluster.slots ?? [];
    for (let i = 0; i < slots.length; i++) if (slots[i] === undefined) return false;
    return true;
  };
  const evaluate = (err?: unknown): void => {
    const masters = cluster.isOpen ? cluster.masters : [];
    // No master known: the first discovery is under way or failed, or the client was closed.
    if (masters.length > 0) report(masters.some(ready), err);
    else if (err !== undefined || (connected && !cluster.isOpen)) report(false, err);
    const complete = masters.length > 0 && masters.every(ready) && covered();
    if (connected && cluster.isOpen && !complete && !refreshing) {
      refreshing = true;
      later(() => void refresh(), CLUSTER_REFRESH_EVERY);
    }
  };
  const refresh = async (): Promise<void> => {
    const masters = cluster.isOpen ? cluster.masters : [];
    // Ask a reachable master for the slots, else any known node; the root nodes if it fails.
    const via = (masters.find(ready) ?? masters[0])?.client ?? { options: cluster._options?.rootNodes?.[0] };
    const slots = cluster._slots;
    if (cluster.isOpen && typeof slots?.rediscover === 'function') {
      // Fails while the cluster is unreachable (the 'error' event says why): the next round tries again.
      await slots.rediscover(via).catch(() => undefined);
    }
    refreshing = false;
    evaluate();
  };
  on('connect', () => {
    connected = true;
    attempted();
    evaluate();
  });
  on('error', (err: unknown) => {
    attempted();
    evaluate(err);
  });
  on('node-error', (err: unknown) => evaluate(err));
  on('disconnect', () => report(false));
  const ok = connected && cluster.masters.length > 0;
  if (connected) evaluate();
  return ok;
}

/** A `createSentinel()` client; true when it is connected already. */
function watchSentinel(sentinel: SentinelClientLike, context: WatchContext): boolean {
  const { on, report, attempted, later, hasAttempted } = context;
  let seenUp = false;
  const evaluate = (err?: unknown): void => {
    const up = sentinel.isReady === true && sentinel.getMasterNode() !== undefined;
    // While the first connection is under way, only its success or an error ends the wait; a client the app
    // never connected is left to say so on each call.
    if (!up && ((err === undefined && !hasAttempted()) || (!seenUp && sentinel.isOpen === false))) return;
    seenUp ||= up;
    attempted();
    report(up, err);
  };
  on('error', (err: unknown) => evaluate(err ?? new Error('sentinel client error')));
  on('topology-change', () => evaluate());
  const poll = (): void => {
    evaluate();
    later(poll, SENTINEL_POLL_EVERY);
  };
  const connected = sentinel.isReady === true;
  poll();
  return connected;
}
