/**
 * What `npm run bench` measures and for how long: the profiles (full, --quick, --smoke) and the command
 * line that tunes them.
 */

/** Durations are whole seconds: autocannon ends a run on its one-second tick. */
export interface Profile {
  name: string;
  rounds: number;
  duration: number;
  warmup: number;
  connections: number;
  memory: number[];
  soak: number;
  /** Whether to count async resources per request (a short extra pass per variant). */
  counts: boolean;
}

export const PROFILES: Record<string, Profile> = {
  full: {
    name: 'full',
    rounds: 10,
    duration: 2,
    warmup: 3,
    connections: 10,
    memory: [100_000, 1_000_000],
    soak: 60,
    counts: true,
  },
  quick: {
    name: 'quick',
    rounds: 3,
    duration: 1,
    warmup: 1,
    connections: 10,
    memory: [100_000],
    soak: 0,
    counts: false,
  },
  // No warm-up: the smoke run only checks that every variant answers (CI runs it), in about a minute.
  smoke: { name: 'smoke', rounds: 1, duration: 1, warmup: 0, connections: 4, memory: [10_000], soak: 0, counts: false },
};

/** `--name` gives '', `--name=value` gives 'value', and an absent option undefined. */
export function arg(name: string): string | undefined {
  const hit = process.argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (!hit) return undefined;
  return hit.includes('=') ? hit.slice(hit.indexOf('=') + 1) : '';
}

/** The profile the command line picks (--smoke, --quick, else full), with its settings overridden. */
export function profileFromArgs(): Profile {
  const base =
    arg('smoke') !== undefined ? PROFILES.smoke : arg('quick') !== undefined ? PROFILES.quick : PROFILES.full;
  const p = { ...base };
  if (arg('rounds')) p.rounds = Number(arg('rounds'));
  if (arg('duration')) p.duration = Number(arg('duration'));
  if (arg('warmup')) p.warmup = Number(arg('warmup'));
  if (arg('connections')) p.connections = Number(arg('connections'));
  if (arg('soak')) p.soak = Number(arg('soak'));
  if (arg('memory')) p.memory = arg('memory')!.split(',').map(Number);
  if (arg('no-memory') !== undefined) p.memory = [];
  if (arg('no-soak') !== undefined) p.soak = 0;
  if (arg('counts') !== undefined) p.counts = true;
  return p;
}

/** A run with a profile's settings changed is not that profile's run: its results are filed as "custom". */
export function isTuned(): boolean {
  return ['only', 'rounds', 'duration', 'warmup', 'connections', 'no-redis', 'no-postgres'].some(
    (k) => arg(k) !== undefined,
  );
}
