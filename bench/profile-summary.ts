/**
 * Where a CPU profile's time went: `node out/bench/profile-summary.js <file.cpuprofile> [--top=N] [--match=text]`.
 * Prints self time by function and by package (or by file for this library), and, with --match, the
 * total (self + callees) time of the functions whose name or file contains the text.
 * Profiles come from `npm run bench -- --profile` (servers run with --cpu-prof).
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function arg(name: string): string | undefined {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit?.slice(name.length + 3);
}

/** A short name for where code lives: a package, this library's file, or a Node internal. */
function place(url: string): string {
  if (!url) return '(native/V8)';
  if (url.startsWith('node:')) return url;
  const lib = /\/dist\/(?:esm|cjs)\/(.+)$/.exec(url);
  if (lib && !url.includes('node_modules')) return `nest-express-session/${lib[1]}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/g;
  let last: string | undefined;
  for (let m = pkg.exec(url); m; m = pkg.exec(url)) last = m[1];
  if (last) return last;
  const out = /\/out\/(.+)$/.exec(url);
  return out ? out[1] : url;
}

function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: node out/bench/profile-summary.js <file.cpuprofile> [--top=N] [--match=text]');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const top = Number(arg('top') ?? 25);
  const match = arg('match');
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self].filter(([id]) => ['(idle)', '(program)'].includes(byId.get(id)!.callFrame.functionName));
  const busy = total - idle.reduce((a, [, t]) => a + t, 0);

  const pct = (t: number): string => `${((100 * t) / busy).toFixed(1).padStart(5)}%`;
  const group = (key: (f: CallFrame) => string): [string, number][] => {
    const sums = new Map<string, number>();
    for (const [id, t] of self) {
      const frame = byId.get(id)!.callFrame;
      if (['(idle)', '(program)'].includes(frame.functionName)) continue;
      const k = key(frame);
      sums.set(k, (sums.get(k) ?? 0) + t);
    }
    return [...sums].sort((a, b) => b[1] - a[1]);
  };

  console.log(`${file}: ${(busy / 1000).toFixed(0)} ms busy of ${(total / 1000).toFixed(0)} ms sampled`);
  console.log('\nself time by package / file:');
  for (const [k, t] of group((f) => place(f.url)).slice(0, top)) console.log(`${pct(t)}  ${k}`);
  console.log('\nself time by function:');
  for (const [k, t] of group((f) => `${f.functionName || '(anonymous)'}  ${place(f.url)}:${f.lineNumber + 1}`).slice(
    0,
    top,
  )) {
    console.log(`${pct(t)}  ${k}`);
  }

  if (match) {
    // Inclusive time: every sample whose stack passes through a matching frame counts once.
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const inclusive = new Map<string, number>();
    for (const [id, t] of self) {
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const f = byId.get(cur)!.callFrame;
        const k = `${f.functionName || '(anonymous)'}  ${place(f.url)}:${f.lineNumber + 1}`;
        if (!k.includes(match) || seen.has(k)) continue;
        seen.add(k);
        inclusive.set(k, (inclusive.get(k) ?? 0) + t);
      }
    }
    console.log(`\ninclusive time of frames matching '${match}':`);
    for (const [k, t] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);
  }
}

main();
