/** The load: sessions made before measuring, and autocannon runs against one variant's server. */
import type { ChildProcess } from 'node:child_process';
import autocannon from 'autocannon';
import type { Result } from 'autocannon';
import type { VariantInfo } from './variants.js';

/** A variant's server, up, with the session cookies its connections send. */
export interface RunningServer {
  info: VariantInfo;
  child: ChildProcess;
  url: string;
  cookies: string[];
}

async function get(url: string, cookie?: string): Promise<{ status: number; body: unknown; cookie?: string }> {
  const res = await fetch(url, { headers: cookie ? { cookie } : {} });
  const text = await res.text();
  const line = res.headers.getSetCookie().find((c) => c.startsWith('connect.sid='));
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined, cookie: line?.split(';')[0] };
}

/**
 * One session per connection (hot: one for all), made (and a counter stored) before measuring; checks the
 * variant counts.
 */
export async function makeCookies(server: { url: string }, info: VariantInfo, connections: number): Promise<string[]> {
  if (info.hot) return [await hotCookie(server, info)];
  const first = await get(`${server.url}/`);
  if (first.status !== 200) throw new Error(`${info.name}: GET / answered ${first.status}`);
  if (!info.cookie) return [];
  const cookies: string[] = [];
  for (let i = 0; i < connections; i++) {
    const res = await get(`${server.url}/`);
    if (!res.cookie) throw new Error(`${info.name}: no session cookie set`);
    cookies.push(res.cookie);
  }
  const again = await get(`${server.url}/`, cookies[0]);
  if ((again.body as { views?: number })?.views !== 2) {
    throw new Error(`${info.name}: the session did not count (${JSON.stringify(again.body)})`);
  }
  if (info.path !== '/') {
    const read = await get(`${server.url}${info.path}`, cookies[0]);
    if ((read.body as { views?: number })?.views !== 2)
      throw new Error(`${info.name}: ${info.path} did not read the session`);
  }
  return cookies;
}

/** The one session of a hot-session variant, its counter stored by connection 0's path; checks it counts. */
async function hotCookie(server: { url: string }, info: VariantInfo): Promise<string> {
  const first = await get(`${server.url}${info.path}/0`);
  if (first.status !== 200 || !first.cookie) throw new Error(`${info.name}: ${info.path}/0 set no session`);
  const again = await get(`${server.url}${info.path}/0`, first.cookie);
  if ((again.body as { n?: number })?.n !== 2) {
    throw new Error(`${info.name}: the hot session did not count (${JSON.stringify(again.body)})`);
  }
  return first.cookie;
}

/**
 * A hot session's counters as stored, summed, and the increments the server's handler made: every increment
 * the session no longer holds was lost (a write that overwrote another request's key).
 */
export async function hotTotals(server: RunningServer): Promise<{ stored: number; handled: number }> {
  const res = await get(`${server.url}/hot-total`, server.cookies[0]);
  if (res.status !== 200) throw new Error(`${server.info.name}: /hot-total answered ${res.status}`);
  return res.body as { stored: number; handled: number };
}

/**
 * Loads the server for `seconds` with `connections` connections, each sending its own session cookie; on a
 * hot session, all the same cookie, each connection on its own path (`<path>/<n>`: its own key to write).
 */
export function cannon(server: RunningServer, seconds: number, connections: number): Promise<Result> {
  let next = 0;
  const { info, cookies } = server;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: server.url + info.path,
        connections,
        duration: seconds,
        pipelining: 1,
        setupClient: (client) => {
          const n = next++;
          if (info.hot) client.setRequests([{ path: `${info.path}/${n}`, headers: { cookie: cookies[0] } }]);
          else if (cookies.length > 0) client.setHeaders({ cookie: cookies[n % cookies.length] });
        },
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}
