// Drift detection latency on the embedded cluster, with the real agent on every node (one
// process: API server, kubelets, agents). No policy is needed: a node with no hand-off must not
// hold our drop-in, so writing one onto it (a "restored backup") is drift its agent reports.
//  1. one at a time: our drop-in written onto --samples random nodes, one after the other; from
//     the write to the agent's Drifted report being stored by the API server (read in-process);
//  2. all at once: --burst nodes written together; from the first write to the last report;
//  3. with --repair, the controller runs too (in this process): from the burst to every node clean
//     again (taken off one at a time: maxUnavailable 1, as for nodes no policy owns).
// --watch off makes every fs.watch fail (as at inotify's limits), so only the re-check finds
// drift (every --poll-ms, default 5000).
// Run: node --import tsx bench/drift.ts [--nodes 1000] [--samples 40] [--burst 200] [--watch off] [--repair]
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { A_STATE, ANNOTATION_PREFIX, DROPIN_FILE } from '../src/api/annotations.js';
import { renderDropin } from '../src/agent/files.js';
import { Controller } from '../src/controller/controller.js';
import { NODES } from '../src/sim/apiserver/index.js';
import { SimCluster } from '../src/sim/cluster.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
}

const nodes = Number(arg('nodes', '1000'));
const samples = Number(arg('samples', '40'));
const burst = Number(arg('burst', '200'));
const pollMs = Number(arg('poll-ms', '5000'));
const watchOff = arg('watch', 'on') === 'off';
const repair = process.argv.includes('--repair');

const failingWatch = (() => {
  throw Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), { code: 'ENOSPC' });
}) as unknown as typeof import('node:fs').watch;

const t0 = performance.now();
const cluster = await SimCluster.start({
  nodes,
  // Drop-in kubelets only: the drift here is our drop-in coming back.
  versions: ['v1.30.10', 'v1.31.6', 'v1.32.2', 'v1.33.1', 'v1.34.0', 'v1.35.2'],
  restartMs: 200,
  installCrd: true,
  agentDrift: watchOff ? { watch: failingWatch, pollMs } : { pollMs },
});
console.log(`cluster of ${nodes} nodes, every agent watching its Node: ${((performance.now() - t0) / 1000).toFixed(1)} s (fs.watch ${watchOff ? 'off: re-check every ' + pollMs + ' ms' : 'on'})`);
const controller = repair ? new Controller({ kubeConfig: cluster.kubeConfig(), noLeaderElection: true }) : undefined;
await controller?.start();
// Let every agent take its first look (at its start) and settle.
await new Promise((r) => setTimeout(r, 3_000));

const store = cluster.server.store;
const kubelets = [...cluster.kubelets.values()];
const stray = renderDropin({ tracing: { endpoint: 'otel.example:4317', samplingRatePerMillion: 1 } });
const annotations = (name: string): Record<string, string> =>
  store.tryGet<{ metadata: { annotations?: Record<string, string> } }>(NODES, name)?.metadata.annotations ?? {};
const drifted = (name: string): boolean => annotations(name)[A_STATE] === 'Drifted';
const clean = (name: string): boolean => !Object.keys(annotations(name)).some((k) => k.startsWith(ANNOTATION_PREFIX));

function pick(n: number): typeof kubelets {
  const pool = [...kubelets];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [pool[i], pool[j]] = [pool[j] as (typeof pool)[number], pool[i] as (typeof pool)[number]];
  }
  return pool.slice(0, n);
}

async function until(what: string, fn: () => boolean, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (!fn()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return performance.now() - start;
}

const chosen = pick(samples + burst);
const latencies: number[] = [];
for (const k of chosen.slice(0, samples)) {
  await writeFile(join(k.dropinDir ?? '', DROPIN_FILE), stray);
  latencies.push(await until(`${k.nodeName} reported`, () => drifted(k.nodeName), pollMs * 3 + 10_000));
}
latencies.sort((a, b) => a - b);
const q = (p: number): string => (latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(0);
console.log(`one at a time (${samples} nodes): write -> Drifted stored by the API server: p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${q(1)} ms`);

const batch = chosen.slice(samples);
const b0 = performance.now();
await Promise.all(batch.map((k) => writeFile(join(k.dropinDir ?? '', DROPIN_FILE), stray)));
const written = performance.now() - b0;
const all = await until('burst reported', () => batch.every((k) => drifted(k.nodeName)), pollMs * 3 + 60_000);
console.log(`all at once (${batch.length} nodes, written in ${written.toFixed(0)} ms): every one reported ${(all + written).toFixed(0)} ms after the first write`);

if (controller) {
  const every = [...chosen];
  const r0 = performance.now();
  await until('repaired', () => every.every((k) => clean(k.nodeName)), 30 * 60_000);
  console.log(`repaired (taken off one node at a time, no soak), ${every.length} nodes: ${((performance.now() - r0) / 1000).toFixed(1)} s; peak restarting at once: ${cluster.maxConcurrentRestarts()}`);
}
await controller?.stop();
await cluster.stop();
