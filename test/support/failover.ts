import assert from 'node:assert/strict';
import { STORE_UNAVAILABLE_MESSAGE } from 'nest-express-session';
import type { Client, TestResponse } from './http.js';
import { sleep } from './net.js';

// Requests that keep coming while a Redis server dies and another takes over, and what to expect of them.

/** One browser's request, sent again and again through an outage. */
export interface Probe {
  name: string;
  send(): Promise<TestResponse>;
}

/** What one request got: its status (0: no answer within the bound) and when it was sent (ms after the start). */
export interface Answer {
  status: number;
  message?: unknown;
  at: number;
}

/** How many 200s in a row make a probe recovered. */
const STEADY = 5;

/** A request to `path` on `client` (with the cookie given, if any). */
export function probe(name: string, client: Client, path: string, cookie?: string): Probe {
  return { name, send: () => client.get(path, cookie ? { cookie } : {}) };
}

/**
 * Sends each probe's request again and again (the probes side by side, each one request after the other)
 * until it has had {@link STEADY} 200s in a row, or `limitMs` has passed. A request with no answer within
 * `boundMs` is recorded with status 0 (a hang). Returns each probe's answers, in order.
 */
export async function driveThroughOutage(
  probes: Probe[],
  { limitMs = 20_000, boundMs }: { limitMs?: number; boundMs: number },
): Promise<Map<string, Answer[]>> {
  const started = Date.now();
  const answers = new Map(probes.map((p) => [p.name, [] as Answer[]]));
  await Promise.all(
    probes.map(async (p) => {
      const list = answers.get(p.name)!;
      const steady = (): boolean => list.length >= STEADY && list.slice(-STEADY).every((a) => a.status === 200);
      while (Date.now() - started < limitMs && !steady()) {
        const at = Date.now() - started;
        let timer: NodeJS.Timeout | undefined;
        const hang = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), boundMs)));
        const res = await Promise.race([p.send(), hang]);
        clearTimeout(timer);
        list.push({ status: res?.status ?? 0, message: res?.body?.message, at });
        await sleep(50);
      }
    }),
  );
  return answers;
}

/**
 * Checks a probe's answers through an outage: each is a 200 or the module's clear 503 (never a 500, never a
 * hang), the 503s (at least `min503` of them) come in one run before the first 200 after it, and the probe
 * ends steady on 200s. Returns how many 503s it saw and from when to when (ms after the start).
 */
export function assertOutage(
  name: string,
  answers: Answer[],
  min503: number,
): { unavailable: number; from?: number; to?: number } {
  const summary = answers.map((a) => a.status).join(' ');
  for (const answer of answers) {
    assert.ok(answer.status === 200 || answer.status === 503, `${name}: a 200 or a 503 only, not: ${summary}`);
    if (answer.status === 503) assert.equal(answer.message, STORE_UNAVAILABLE_MESSAGE, `${name}: the module's 503`);
  }
  const unavailable = answers.filter((a) => a.status === 503);
  assert.ok(unavailable.length >= min503, `${name}: at least ${min503} 503 while the server was down: ${summary}`);
  const first = answers.findIndex((a) => a.status === 503);
  const last = answers.findLastIndex((a) => a.status === 503);
  if (first >= 0) {
    assert.ok(
      answers.slice(first, last + 1).every((a) => a.status === 503),
      `${name}: the 503s come in one run: ${summary}`,
    );
  }
  assert.ok(
    answers.length >= STEADY && answers.slice(-STEADY).every((a) => a.status === 200),
    `${name}: 200s again after the outage: ${summary}`,
  );
  return { unavailable: unavailable.length, from: unavailable[0]?.at, to: unavailable.at(-1)?.at };
}
