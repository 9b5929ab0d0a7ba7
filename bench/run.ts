/**
 * `npm run bench [-- --quick | --smoke] [--only=a,b] [--rounds=N] [--duration=S] [--connections=N]
 * [--no-redis] [--no-postgres] [--no-memory] [--no-soak] [--memory=N,M] [--soak=S] [--counts] [--profile]
 * [--no-pin]`. With --only, the memory and soak parts run only when --memory=... or --soak=... asks for them.
 *
 * Every variant runs in its own server process (out/bench/server.js); each gets a warm-up, then the
 * variants are measured in turn, round after round (A B C A B C ...), so that drift of a shared machine
 * hits them alike. Reported: medians of req/s and p99 latency, and for each pair of interest the median of
 * its same-round req/s ratios. Redis and PostgreSQL variants run against a throwaway redis-server and
 * PostgreSQL started here; `INFO commandstats` deltas give the Redis commands per request, and every server
 * counts its store round trips and the requests its handlers served (bench/round-trips.ts).
 * Results go to bench/results/ (JSON and Markdown, gitignored).
 *
 * The parts: profiles.ts (profiles and options), processes.ts (the servers it starts), load.ts (autocannon
 * runs), statistics.ts (medians, ratios, per-request counts), soak.ts, report.ts.
 */
import { mkdirSync } from 'node:fs';
import { sleep } from '../test/support/net.js';
import { cannon, hotTotals, makeCookies } from './load.js';
import type { RunningServer } from './load.js';
import {
  ask,
  commandStats,
  cpuOf,
  isPinning,
  MEMORY,
  pinSelf,
  runNode,
  setUpPinning,
  startBenchPostgres,
  startRedis,
  startServer,
  statsOf,
  stopAllNow,
  stopChild,
  stopRedis,
} from './processes.js';
import type { BenchRedis } from './processes.js';
import type { PostgresServer } from '../test/support/launchers.js';
import { arg, isTuned, profileFromArgs } from './profiles.js';
import { fmt, machineLine, markdown, RESULTS, writeReport } from './report.js';
import type { Report } from './report.js';
import { soak } from './soak.js';
import type { SoakResult } from './soak.js';
import {
  asyncPerRequest,
  commandDelta,
  countTargetOf,
  ratioOf,
  sampleOf,
  servedDelta,
  summarise,
} from './statistics.js';
import type { VariantResult } from './statistics.js';
import { COUNT_TARGETS, RATIOS, VARIANTS } from './variants.js';

const t0 = Date.now();
const log = (line: string): void =>
  void process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);

async function main(): Promise<void> {
  const started = Date.now();
  const profile = profileFromArgs();
  setUpPinning();
  const only = arg('only')?.split(',').filter(Boolean);
  /** With --profile, the servers write CPU profiles of the measured rounds here (see bench/profile-summary.ts). */
  let profileDir: string | undefined;
  if (arg('profile') !== undefined) {
    profileDir = `${RESULTS}profiles/${new Date().toISOString().replace(/[:.]/g, '-')}`;
    log(`CPU profiles: ${profileDir}`);
  }
  let selected = VARIANTS.filter((v) => !only || only.includes(v.name));
  if (arg('no-redis') !== undefined) selected = selected.filter((v) => v.backend !== 'redis');
  if (arg('no-postgres') !== undefined) selected = selected.filter((v) => v.backend !== 'postgres');
  const results = new Map<string, VariantResult>(
    selected.map((v) => [v.name, { name: v.name, label: v.label, pending: v.pending, samples: [] }]),
  );
  log(
    `${machineLine()}${isPinning() ? ' (server pinned to CPU 1, client and Redis to CPU 0)' : ''}\nprofile ${profile.name}: ${profile.rounds} rounds × ${profile.duration} s, warm-up ${profile.warmup} s, ${profile.connections} connections`,
  );

  const wanted = (backend: string): boolean => selected.some((v) => v.backend === backend && !v.pending);
  const skip = (backend: string, why: string): void => {
    for (const v of selected) if (v.backend === backend) results.get(v.name)!.skipped = why;
  };
  let redis: BenchRedis | undefined;
  if (wanted('redis')) {
    try {
      redis = await startRedis();
      log(`redis-server on ${redis.url}`);
    } catch (err) {
      log(`Redis variants skipped: ${err instanceof Error ? err.message : String(err)}`);
      skip('redis', 'no redis-server');
    }
  }
  let postgres: PostgresServer | undefined;
  if (wanted('postgres')) {
    try {
      postgres = await startBenchPostgres();
      log(`PostgreSQL on ${postgres.url}`);
    } catch (err) {
      log(`PostgreSQL variants skipped: ${err instanceof Error ? err.message : String(err)}`);
      skip('postgres', 'no PostgreSQL');
    }
  }
  const backendUrl = { redis: redis?.url, postgres: postgres?.url };
  const runnable = selected.filter((v) => !v.pending && !results.get(v.name)!.skipped);

  const servers: RunningServer[] = [];
  try {
    // Started two at a time: the machine has few cores and each boot is CPU-bound.
    for (let i = 0; i < runnable.length; i += 2) {
      const batch = runnable.slice(i, i + 2);
      const started = await Promise.all(
        batch.map((info) => startServer(info.server ?? info.name, info.backend && backendUrl[info.backend])),
      );
      batch.forEach((info, k) => servers.push({ info, ...started[k], cookies: [] }));
    }
    pinSelf();
    for (const server of servers) server.cookies = await makeCookies(server, server.info, profile.connections);
    log(`${servers.length} servers up${profile.warmup > 0 ? '; warming up' : ''}`);
    if (profile.warmup > 0) for (const server of servers) await cannon(server, profile.warmup, profile.connections);

    if (profileDir) {
      mkdirSync(profileDir, { recursive: true });
      for (const server of servers) await ask(server.child, 'profile-start');
    }
    for (let round = 1; round <= profile.rounds; round++) {
      for (const server of servers) {
        const before = server.info.backend === 'redis' && redis ? await commandStats(redis) : undefined;
        const servedBefore = await statsOf(server.child);
        const cpuBefore = await cpuOf(server.child);
        const result = await cannon(server, profile.duration, profile.connections);
        const cpuAfter = await cpuOf(server.child);
        const cpu = cpuAfter.user - cpuBefore.user + cpuAfter.system - cpuBefore.system;
        // The requests autocannon left in flight finish their store calls before the counts are read.
        await sleep(50);
        const served = servedDelta(servedBefore, await statsOf(server.child));
        const commands = before && redis ? commandDelta(before, await commandStats(redis)) : undefined;
        const sample = sampleOf(round, result, cpu, commands, served);
        results.get(server.info.name)!.samples.push(sample);
        const trips = Object.values(served.roundTrips).reduce((a, b) => a + b, 0) / Math.max(1, served.handled);
        log(
          `round ${round}/${profile.rounds} ${server.info.name.padEnd(24)} ${fmt(sample.rps).padStart(7)} req/s  p99 ${fmt(sample.p99, 1)} ms` +
            `  cpu ${fmt(sample.cpuUs)} µs/req  ${fmt(trips, 2)} trips/req` +
            (sample.non2xx || sample.errors ? `  non2xx ${sample.non2xx} errors ${sample.errors}` : ''),
        );
      }
    }
    // Hot session: what the stored session holds against the increments the handler made, over the whole run.
    for (const server of servers.filter((s) => s.info.hot)) {
      const totals = await hotTotals(server);
      results.get(server.info.name)!.hot = { handled: totals.handled, lost: totals.handled - totals.stored };
    }
    // Async resources per request: not timed, a short pass with a counting hook in each server.
    for (const server of profile.counts ? servers : []) {
      await ask(server.child, 'count-start');
      await cannon(server, 1, profile.connections);
      const counts = await ask<{ requests: number; types: Record<string, number> }>(server.child, 'count-stop');
      results.get(server.info.name)!.asyncPerRequest = asyncPerRequest(counts);
    }
    if (profileDir) {
      for (const server of servers) {
        await ask(server.child, 'profile-stop', { file: `${profileDir}/${server.info.name}.cpuprofile` });
      }
    }
  } finally {
    await Promise.all(servers.map((s) => stopChild(s.child)));
  }

  for (const r of results.values()) Object.assign(r, summarise(r.samples));
  const ratios = RATIOS.map((spec) => ratioOf(spec, results.get(spec.num), results.get(spec.den)));
  const counts = COUNT_TARGETS.map((target) => countTargetOf(target, results.get(target.variant)));

  const memory: unknown[] = [];
  if (arg('only') === undefined || arg('memory') !== undefined) {
    for (const count of profile.memory) {
      log(`embedded store: ${fmt(count)} sessions`);
      memory.push(JSON.parse(await runNode(['--expose-gc', MEMORY, String(count)])));
    }
  }
  let soakResult: SoakResult | undefined;
  if (profile.soak > 0 && (arg('only') === undefined || arg('soak') !== undefined)) {
    log(`soak: ${profile.soak} s at full load`);
    soakResult = await soak(profile.soak, profile.connections);
  }

  if (redis) await stopRedis(redis);
  postgres?.stop();

  const report: Report = {
    date: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: machineLine(),
    pinned: isPinning(),
    profile,
    variants: [...results.values()],
    ratios,
    counts,
    memory,
    soak: soakResult,
    elapsedSeconds: (Date.now() - started) / 1000,
  };
  const md = markdown(report);
  process.stdout.write(`\n${md}\n`);
  const files = writeReport(report, md, isTuned() ? 'custom' : profile.name);
  log(`results: ${files} (${Math.round(report.elapsedSeconds)} s)`);

  const bad = report.variants.filter((v) => v.samples.some((s) => s.non2xx > 0 || s.errors > 0));
  if (bad.length) {
    log(`requests failed in: ${bad.map((v) => v.name).join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  stopAllNow();
  process.exit(1);
});
