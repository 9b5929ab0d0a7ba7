/**
 * What an AsyncLocalStorage costs per request on this Node, without HTTP: `node out/bench/context-cost.js`.
 * Each mode runs in its own child process (a storage once used stays on for the whole process):
 * - none: no AsyncLocalStorage;
 * - idle: a storage used once at start, then never again (what every request pays once any request used it);
 * - run: `storage.run(request, handler)` per request; enterWith: `storage.enterWith(request)` per request.
 * A "request" is a chain of PROMISES_PER_REQUEST promises, about what a Nest request with one guard and one
 * interceptor creates (see promises/req in the benchmark table).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MODES = ['none', 'idle', 'run', 'enterWith'] as const;
type Mode = (typeof MODES)[number];
const REQUESTS = 100_000;
const CONCURRENCY = 10;
const PROMISES_PER_REQUEST = 30;

async function step(value: number): Promise<number> {
  await Promise.resolve();
  return value + 1;
}

async function handler(storage: AsyncLocalStorage<number>, id: number, check: boolean): Promise<void> {
  let value = 0;
  // Each step is two promises (the async function's and the awaited one).
  for (let i = 0; i < PROMISES_PER_REQUEST / 2; i++) value = await step(value);
  if (check && storage.getStore() !== id) throw new Error('the context was lost');
}

async function measure(mode: Mode): Promise<number> {
  const storage = new AsyncLocalStorage<number>();
  if (mode === 'idle') storage.run(0, () => undefined);
  const one = (id: number): Promise<void> => {
    if (mode === 'run') return storage.run(id, () => handler(storage, id, true));
    if (mode === 'enterWith') {
      return (async () => {
        storage.enterWith(id);
        await handler(storage, id, true);
      })();
    }
    return handler(storage, id, false);
  };
  const pass = async (): Promise<number> => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < REQUESTS; i += CONCURRENCY) {
      const batch: Promise<void>[] = [];
      for (let k = 0; k < CONCURRENCY; k++) batch.push(one(i + k + 1));
      await Promise.all(batch);
    }
    return Number(process.hrtime.bigint() - started) / REQUESTS;
  };
  for (let i = 0; i < 3; i++) await pass();
  const runs: number[] = [];
  for (let i = 0; i < 7; i++) runs.push(await pass());
  runs.sort((a, b) => a - b);
  return runs[3];
}

async function main(): Promise<void> {
  const mode = process.argv[2] as Mode | undefined;
  if (mode) {
    process.stdout.write(`${(await measure(mode)).toFixed(0)}\n`);
    return;
  }
  const self = fileURLToPath(import.meta.url);
  const ns: Record<string, number> = {};
  for (const m of MODES) ns[m] = Number(execFileSync(process.execPath, [self, m], { encoding: 'utf8' }).trim());
  console.log(`Node ${process.version}: ${PROMISES_PER_REQUEST} promises per request, ${CONCURRENCY} in flight`);
  for (const m of MODES) {
    const extra = ns[m] - ns.none;
    console.log(
      `${m.padEnd(10)} ${String(ns[m]).padStart(6)} ns/request` +
        (m === 'none' ? '' : `  (+${extra} ns, +${(extra / PROMISES_PER_REQUEST).toFixed(0)} ns per promise)`),
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
