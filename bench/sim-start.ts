// `kto sim` as a user runs it: time until it prints that it is ready (API server serving every
// node, kubelets heartbeating, agents launched), then until every agent watches its node; its CPU
// when idle afterwards, its RSS, `kubectl get nodes` (Table and -o name) against it, and how long
// Ctrl-C takes. Needs the build (`npm run build`): it runs bin/kto.js.
//   node --import tsx bench/sim-start.ts [--nodes 5000] [--idle-seconds 30] [--settle-seconds 10]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

/** utime + stime of a process, in ms (from /proc; clock ticks are 100 Hz here). */
async function cpuMs(pid: number): Promise<{ user: number; sys: number }> {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return { user: Number(f[11]) * 10, sys: Number(f[12]) * 10 };
}

async function rssMb(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
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
const table = timed('kubectl', ['--kubeconfig', kubeconfig, 'get', 'nodes']);
const names = timed('kubectl', ['--kubeconfig', kubeconfig, 'get', 'nodes', '-o', 'name']);
const s0 = performance.now();
child.kill('SIGINT');
await new Promise((r) => child.once('exit', r));
const stopS = (performance.now() - s0) / 1000;
await rm(dir, { recursive: true, force: true });
const pct = (ms: number): string => `${((ms / (idleS * 1000)) * 100).toFixed(2)}%`;
console.log(`kto sim --nodes ${nodes}`);
console.log(`  ready (kubeconfig written, every node Ready, agents launched): ${readyS.toFixed(2)} s`);
console.log(`  every agent watching its node: ${agentsS.toFixed(2)} s`);
console.log(`  idle CPU over ${idleS} s, after ${settleS} s: ${pct(c1.user + c1.sys - c0.user - c0.sys)} of a core (user ${pct(c1.user - c0.user)}, sys ${pct(c1.sys - c0.sys)})`);
console.log(`  RSS: ${rss.toFixed(0)} MB`);
console.log(`  kubectl get nodes (Table): ${table.toFixed(2)} s; -o name (full objects): ${names.toFixed(2)} s`);
console.log(`  stop (SIGINT to exit): ${stopS.toFixed(2)} s`);
