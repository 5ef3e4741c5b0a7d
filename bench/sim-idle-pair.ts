// Two builds of `kto sim` idling side by side over the same minutes: this checkout's and another
// (`--against DIR`, a checkout with its own `npm run build`, e.g. a `git worktree add --detach`
// of the base commit). The host's speed drifts by 15-70% within an hour here, so idle figures
// taken one run after another compare the hours more than the builds; two clusters sampled over
// the same 30 s compare the builds. Each idles at a few percent of a core, so on 2 cores the two
// hardly slow each other down (both start at the same time, so their start figures are not
// given: bench/sim-start.ts has them).
// Prints the CPU (percent of a core) and RSS of both every --sample-seconds, then for three
// stretches, counted from when both agents watch: the first minute (V8's memory reducer runs
// there), the calm minutes up to 300 s, and from 330 s, when the agents' watches (5-10 minute
// timeouts) end and are made again: the mean, and how many samples were over the 3% target.
//   node --import tsx bench/sim-idle-pair.ts --against DIR [--nodes 5000] [--minutes 10]
//     [--sample-seconds 30]
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMs, rssMb } from './procfs.js';

const here = dirname(fileURLToPath(import.meta.url));

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const against = arg('against');
if (!against) {
  console.error('usage: node --import tsx bench/sim-idle-pair.ts --against DIR [--nodes 5000] [--minutes 10] [--sample-seconds 30]');
  process.exit(2);
}
const nodes = Number(arg('nodes') ?? 5000);
const minutes = Number(arg('minutes') ?? 10);
const sampleS = Number(arg('sample-seconds') ?? 30);
const dir = await mkdtemp(join(tmpdir(), 'kto-sim-pair-'));

interface Sim {
  label: string;
  pid: number;
  watching: Promise<void>;
  exited: Promise<unknown>;
  stop(): void;
}

function start(label: string, checkout: string): Sim {
  const child = spawn(process.execPath, [join(checkout, 'bin', 'kto.js'), 'sim', '--nodes', String(nodes), '--kubeconfig', join(dir, `${label}.kubeconfig`)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const exited = new Promise((r) => child.once('exit', r));
  const watching = new Promise<void>((ok, fail) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('node agents watching')) ok();
    });
    void exited.then((code) => fail(new Error(`${label}: kto sim exited (${String(code)}) before its agents watched:\n${out}`)));
  });
  return { label, pid: child.pid ?? 0, watching, exited, stop: () => child.kill('SIGINT') };
}

const sims = [start('base', resolve(against)), start('this', join(here, '..'))];
try {
  await Promise.all(sims.map((s) => s.watching));
  console.log(`kto sim --nodes ${nodes}, two builds side by side: base ${resolve(against)}, this ${join(here, '..')}`);
  const t0 = performance.now();
  const rows: { at: number; pct: number[]; rss: number[] }[] = [];
  let prev = await Promise.all(sims.map((s) => cpuMs(s.pid)));
  for (let i = 0; i < Math.floor((minutes * 60) / sampleS); i++) {
    await new Promise((r) => setTimeout(r, sampleS * 1000));
    const now = await Promise.all(sims.map((s) => cpuMs(s.pid)));
    const pct = now.map((c, k) => ((c.user + c.sys - (prev[k]?.user ?? 0) - (prev[k]?.sys ?? 0)) / (sampleS * 1000)) * 100);
    prev = now;
    const row = { at: (performance.now() - t0) / 1000, pct, rss: await Promise.all(sims.map((s) => rssMb(s.pid))) };
    rows.push(row);
    console.log(`  ${row.at.toFixed(0).padStart(4)} s: ${sims.map((s, k) => `${s.label} ${(row.pct[k] ?? 0).toFixed(2)}% ${(row.rss[k] ?? 0).toFixed(0)} MB`).join('  ')}`);
  }
  const stretches: [string, (at: number) => boolean][] = [
    ['first minute', (at) => at <= 61],
    ['61-300 s', (at) => at > 61 && at <= 301],
    ['from 330 s (the watches ending)', (at) => at >= 329],
  ];
  for (const [name, inIt] of stretches) {
    const part = rows.filter((r) => inIt(r.at));
    if (part.length === 0) continue;
    const parts = sims.map((s, k) => {
      const v = part.map((r) => r.pct[k] ?? 0);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      return `${s.label} mean ${mean.toFixed(2)}% (${v.filter((x) => x > 3).length} over 3%)`;
    });
    console.log(`${name}, ${part.length} samples: ${parts.join(', ')}`);
  }
  console.log(`RSS: ${sims.map((s, k) => `${s.label} ${Math.min(...rows.map((r) => r.rss[k] ?? 0)).toFixed(0)}-${Math.max(...rows.map((r) => r.rss[k] ?? 0)).toFixed(0)} MB`).join(', ')}`);
} finally {
  for (const s of sims) s.stop();
  await Promise.all(sims.map((s) => s.exited));
  await rm(dir, { recursive: true, force: true });
}
