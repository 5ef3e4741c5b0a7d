// `kto sim` as a user runs it: time until it prints that it is ready (API server serving every
// node, kubelets heartbeating, agents starting), then until every agent watches its node; its CPU
// when idle afterwards, its RSS, `kubectl get nodes` (Table and -o name) against it, and how long
// Ctrl-C takes. Needs the build (`npm run build`): it runs bin/kto.js.
// --long-minutes N goes on idling for N minutes after the first window, and prints the CPU and
// RSS of every --sample-seconds (30 s): from the fifth minute on, the agents' watches (5-10 minute
// timeouts) end and are made again, which the first window does not see.
//   node --import tsx bench/sim-start.ts [--nodes 5000] [--idle-seconds 30] [--settle-seconds 10]
//     [--long-minutes 0] [--sample-seconds 30]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMs, rssMb } from './procfs.js';

const here = dirname(fileURLToPath(import.meta.url));

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

function timed(cmd: string, args: string[]): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  return (performance.now() - t) / 1000;
}

const nodes = arg('nodes', 5000);
const idleS = arg('idle-seconds', 30);
const settleS = arg('settle-seconds', 10);
const longMin = arg('long-minutes', 0);
const sampleS = arg('sample-seconds', 30);
const dir = await mkdtemp(join(tmpdir(), 'kto-sim-start-'));
const kubeconfig = join(dir, 'kubeconfig');
const t0 = performance.now();
const child = spawn(process.execPath, [join(here, '..', 'bin', 'kto.js'), 'sim', '--nodes', String(nodes), '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'inherit'] });
const pid = child.pid ?? 0;
let out = '';
const printed = (text: string): Promise<number> =>
  new Promise<number>((resolve, reject) => {
    const check = (): void => {
      if (!out.includes(text)) return;
      child.stdout.off('data', check);
      resolve((performance.now() - t0) / 1000);
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => reject(new Error(`kto sim exited (${code}) before printing "${text}":\n${out}`)));
    check();
  });
child.stdout.on('data', (b: Buffer) => (out += b.toString()));
const readyS = await printed('embedded cluster ready');
const agentsS = await printed('node agents watching');
await new Promise((r) => setTimeout(r, settleS * 1000));
const c0 = await cpuMs(pid);
await new Promise((r) => setTimeout(r, idleS * 1000));
const c1 = await cpuMs(pid);
const rss = await rssMb(pid);
/** 30 s samples after the first window, printed as they come: seconds after the agents watched. */
const samples: { at: number; pct: number; rss: number }[] = [];
if (longMin > 0) {
  const pctOf = (ms: number): number => (ms / (sampleS * 1000)) * 100;
  let prev = c1;
  const watchedAt = t0 + agentsS * 1000;
  for (let i = 0; i < Math.floor((longMin * 60) / sampleS); i++) {
    await new Promise((r) => setTimeout(r, sampleS * 1000));
    const c = await cpuMs(pid);
    const sample = { at: (performance.now() - watchedAt) / 1000, pct: pctOf(c.user + c.sys - prev.user - prev.sys), rss: await rssMb(pid) };
    prev = c;
    samples.push(sample);
    console.log(`  ${sample.at.toFixed(0)} s after the agents watched: ${sample.pct.toFixed(2)}% of a core, RSS ${sample.rss.toFixed(0)} MB`);
  }
}
const table = timed('kubectl', ['--kubeconfig', kubeconfig, 'get', 'nodes']);
const names = timed('kubectl', ['--kubeconfig', kubeconfig, 'get', 'nodes', '-o', 'name']);
const s0 = performance.now();
child.kill('SIGINT');
await new Promise((r) => child.once('exit', r));
const stopS = (performance.now() - s0) / 1000;
await rm(dir, { recursive: true, force: true });
const pct = (ms: number): string => `${((ms / (idleS * 1000)) * 100).toFixed(2)}%`;
console.log(`kto sim --nodes ${nodes}`);
console.log(`  ready (kubeconfig written, every node Ready, agents starting): ${readyS.toFixed(2)} s`);
console.log(`  every agent watching its node: ${agentsS.toFixed(2)} s`);
console.log(`  idle CPU over ${idleS} s, after ${settleS} s: ${pct(c1.user + c1.sys - c0.user - c0.sys)} of a core (user ${pct(c1.user - c0.user)}, sys ${pct(c1.sys - c0.sys)})`);
console.log(`  RSS: ${rss.toFixed(0)} MB`);
if (samples.length > 0) {
  const span = (xs: number[], unit: string, digits: number): string => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    return `min ${sorted[0]?.toFixed(digits)}${unit}, median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(digits)}${unit}, mean ${mean.toFixed(digits)}${unit}, max ${sorted[sorted.length - 1]?.toFixed(digits)}${unit}`;
  };
  console.log(`  idle CPU, ${samples.length} samples of ${sampleS} s over ${longMin} min: ${span(samples.map((x) => x.pct), '%', 2)}`);
  const late = samples.filter((x) => x.at >= 330);
  if (late.length > 0) console.log(`    from 330 s (the agents' watches ending): ${span(late.map((x) => x.pct), '%', 2)}`);
  console.log(`  RSS over ${longMin} min: ${span(samples.map((x) => x.rss), ' MB', 0)}`);
}
console.log(`  kubectl get nodes (Table): ${table.toFixed(2)} s; -o name (full objects): ${names.toFixed(2)} s`);
console.log(`  stop (SIGINT to exit): ${stopS.toFixed(2)} s`);
