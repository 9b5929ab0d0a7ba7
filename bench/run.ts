/**
 * `npm run bench [-- --quick | --smoke] [--only=a,b] [--rounds=N] [--duration=S] [--connections=N]
 * [--no-redis] [--no-memory] [--no-soak] [--memory=N,M] [--soak=S] [--counts] [--profile] [--no-pin]`.
 * With --only, the memory and soak parts run only when --memory=... or --soak=... asks for them.
 *
 * Every variant runs in its own server process (out/bench/server.js); each gets a warm-up, then the
 * variants are measured in turn, round after round (A B C A B C ...), so that drift of a shared machine
 * hits them alike. Reported: medians of req/s and p99 latency, and for each pair of interest the median of
 * its same-round req/s ratios. Redis variants run against a throwaway redis-server started here, and
 * `INFO commandstats` deltas give the store commands per request.
 * Results go to bench/results/ (JSON and Markdown, gitignored).
 *
 * The parts: profiles.ts (profiles and options), processes.ts (the servers it starts), load.ts (autocannon
 * runs), statistics.ts (medians, ratios, per-request counts), soak.ts, report.ts.
 */
import { mkdirSync } from 'node:fs';
import { sleep } from '../test/support/net.js';
import { cannon, makeCookies } from './load.js';
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
  startRedis,
  startServer,
  stopAllNow,
  stopChild,
  stopRedis,
} from './processes.js';
import type { BenchRedis } from './processes.js';
import { arg, isTuned, profileFromArgs } from './profiles.js';
import { fmt, machineLine, markdown, RESULTS, writeReport } from './report.js';
import type { Report } from './report.js';
import { soak } from './soak.js';
import type { SoakResult } from './soak.js';
import { asyncPerRequest, commandDelta, ratioOf, sampleOf, summarise } from './statistics.js';
import type { VariantResult } from './statistics.js';
import { RATIOS, VARIANTS } from './variants.js';

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
  if (arg('no-redis') !== undefined) selected = selected.filter((v) => !v.redis);
  const results = new Map<string, VariantResult>(
    selected.map((v) => [v.name, { name: v.name, label: v.label, pending: v.pending, samples: [] }]),
  );
  log(
    `${machineLine()}${isPinning() ? ' (server pinned to CPU 1, client and Redis to CPU 0)' : ''}\nprofile ${profile.name}: ${profile.rounds} rounds × ${profile.duration} s, warm-up ${profile.warmup} s, ${profile.connections} connections`,
  );

  let redis: BenchRedis | undefined;
  if (selected.some((v) => v.redis && !v.pending)) {
    try {
      redis = await startRedis();
      log(`redis-server on ${redis.url}`);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      log(`Redis variants skipped: ${why}`);
      for (const v of selected) if (v.redis) results.get(v.name)!.skipped = 'no redis-server';
    }
  }
  const runnable = selected.filter((v) => !v.pending && !results.get(v.name)!.skipped);

  const servers: RunningServer[] = [];
  try {
    // Started two at a time: the machine has few cores and each boot is CPU-bound.
    for (let i = 0; i < runnable.length; i += 2) {
      const batch = runnable.slice(i, i + 2);
      const started = await Promise.all(
        batch.map((info) => startServer(info.name, info.redis ? redis?.url : undefined)),
      );
      batch.forEach((info, k) => servers.push({ info, ...started[k], cookies: [] }));
    }
    pinSelf();
    for (const server of servers) server.cookies = await makeCookies(server, server.info, profile.connections);
    log(`${servers.length} servers up; warming up`);
    for (const server of servers) await cannon(server, profile.warmup, profile.connections);

    if (profileDir) {
      mkdirSync(profileDir, { recursive: true });
      for (const server of servers) await ask(server.child, 'profile-start');
    }
    for (let round = 1; round <= profile.rounds; round++) {
      for (const server of servers) {
        const before = server.info.redis && redis ? await commandStats(redis) : undefined;
        const cpuBefore = await cpuOf(server.child);
        const result = await cannon(server, profile.duration, profile.connections);
        const cpuAfter = await cpuOf(server.child);
        const cpu = cpuAfter.user - cpuBefore.user + cpuAfter.system - cpuBefore.system;
        let commands: Record<string, number> | undefined;
        if (before && redis) {
          await sleep(50);
          commands = commandDelta(before, await commandStats(redis));
        }
        const sample = sampleOf(round, result, cpu, commands);
        results.get(server.info.name)!.samples.push(sample);
        log(
          `round ${round}/${profile.rounds} ${server.info.name.padEnd(22)} ${fmt(sample.rps).padStart(7)} req/s  p99 ${fmt(sample.p99, 1)} ms` +
            `  cpu ${fmt(sample.cpuUs)} µs/req` +
            (sample.non2xx || sample.errors ? `  non2xx ${sample.non2xx} errors ${sample.errors}` : ''),
        );
      }
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

  const report: Report = {
    date: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: machineLine(),
    pinned: isPinning(),
    profile,
    variants: [...results.values()],
    ratios,
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
