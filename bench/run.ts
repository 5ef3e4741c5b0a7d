// `npm run bench`: the rollout benchmark (bench/rollout.ts) and the cache-memory comparison with
// a naive full-object cache (bench/baseline.ts), printed as one table with the targets.
// Options: --nodes N (default 5000), --restart-ms MS (default 200), --agents standin|real,
// --kubelet sim|timer (stand-ins: SimKubelet, or a bare timer to take the simulator's CPU out).
//
// What is counted:
//  - rollout time: from creating the policy to status Ready with updatedNodes == targetNodes
//    (every node restarted and reported), against ideal = ceil(N / maxUnavailable) * restart.
//  - controller heap: heapUsed of the controller's own process after a full GC, once the
//    rollout is done (absolute, and above the same process before it started anything).
//  - writes per node: every write the API server saw during the rollout from the controller
//    (node hand-offs, policy status, finalizer, events) plus the agents' annotation patches
//    (Applying, Applied), divided by N.
//  - reconcile latency: wall time of each Reconciler.reconcile run in the controller, its
//    writes included (ControllerOptions.wrapReconcile).
import { buildCrd } from '../src/api/crd.js';
import { A_APPLIED_HASH, A_DESIRED_CONFIG, A_DESIRED_HASH, A_DESIRED_TIME, A_POLICY, A_STATE, A_STATE_HASH, A_STATE_TIME } from '../src/api/annotations.js';
import { ApiServer, CRDS, NODES } from '../src/sim/apiserver/index.js';
import { simNodeObject } from '../src/sim/nodes.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forkChild, runRolloutBench, type RolloutBenchResult } from './rollout.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const MB = 1024 * 1024;
const mb = (b: number): string => `${(b / MB).toFixed(1)} MB`;
const ms = (v: number): string => `${v.toFixed(v < 10 ? 2 : 0)} ms`;

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
}

/** Cache memory of the two informers over the same N nodes, as they look mid-rollout. */
async function cacheComparison(nodes: number): Promise<{ full: number; trimmed: number; fullCached: number; trimmedCached: number }> {
  const server = new ApiServer();
  await server.start();
  const dir = await mkdtemp(join(tmpdir(), 'kto-bench-cache-'));
  try {
    server.store.create(CRDS, buildCrd());
    const now = new Date().toISOString();
    for (let i = 0; i < nodes; i++) {
      const n = simNodeObject(`node-${i}`, i, 'v1.33.1') as { metadata: { annotations: Record<string, string> } };
      Object.assign(n.metadata.annotations, {
        [A_POLICY]: 'bench', [A_DESIRED_HASH]: 'h'.repeat(16), [A_DESIRED_TIME]: now, [A_STATE]: 'Applied', [A_STATE_HASH]: 'h'.repeat(16),
        [A_APPLIED_HASH]: 'h'.repeat(16), [A_STATE_TIME]: now,
        [A_DESIRED_CONFIG]: JSON.stringify({ apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', tracing: { endpoint: 'otel-collector.observability.svc:4317', samplingRatePerMillion: 10000 } }),
      });
      server.store.create(NODES, n);
    }
    const kubeconfig = join(dir, 'kubeconfig');
    await server.writeKubeconfig(kubeconfig);
    const measure = async (mode: 'full-cache' | 'trimmed-cache'): Promise<[number, number]> => {
      const c = forkChild(mode, kubeconfig);
      try {
        await c.synced;
        const r = await c.report();
        return [r.heapNow - r.heapBefore, r.cached];
      } finally {
        await c.stop();
      }
    };
    // One after the other: the two share 2 cores with the server.
    const [full, fullCached] = await measure('full-cache');
    const [trimmed, trimmedCached] = await measure('trimmed-cache');
    return { full, trimmed, fullCached, trimmedCached };
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  const line = (r: string[]): string => `| ${r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join(' | ')} |`;
  const sep = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(rows[0] ?? []), sep, ...rows.slice(1).map(line)].join('\n');
}

function report(r: RolloutBenchResult, cache: Awaited<ReturnType<typeof cacheComparison>>): string {
  const c = r.controller;
  const lat = c.reconcileMs;
  const p50 = percentile(lat, 50);
  const p99 = percentile(lat, 99);
  const ctlWrites = r.requests.writes;
  const agentWrites = r.agents === 'standin' ? r.agentWrites : 2 * r.nodes; // real agents: Applying + Applied, inside `requests`
  const totalWrites = r.agents === 'standin' ? ctlWrites + agentWrites : ctlWrites;
  const controllerOnly = r.agents === 'standin' ? ctlWrites : ctlWrites - agentWrites;
  const nodeReleases = r.nodes; // one hand-off patch per node
  const perNode = totalWrites / r.nodes;
  const heap = c.heapNow;
  const ratio = r.rolloutMs / r.idealMs;
  const yes = (b: boolean): string => (b ? 'met' : 'NOT met');
  const rows = [
    ['metric', 'value', 'target', ''],
    ['nodes / agents', `${r.nodes} / ${r.agents === 'standin' ? `in-process agent stand-ins (store watch + ${r.kubelet === 'sim' ? 'SimKubelet' : 'timer kubelet'})` : 'real agents (HTTP)'}`, '', ''],
    ['maxUnavailable / restart', `${r.maxUnavailable} (10%) / ${r.restartMs} ms`, '', ''],
    ['rollout wall time', `${ms(r.rolloutMs)} (ideal ${ms(r.idealMs)}, ${ratio.toFixed(2)}x)`, '<= 1.10x ideal', yes(ratio <= 1.1)],
    ['controller heap after rollout', `${mb(heap)} (+${mb(heap - c.heapBefore)} over its empty process)`, '<= 64 MB', yes(heap <= 64 * MB)],
    ['controller heap after cache sync', `${mb(c.heapSynced)} (+${mb(c.heapSynced - c.heapBefore)})`, '', ''],
    ['controller RSS (now / peak)', `${mb(c.rss)} / ${mb(c.rssPeak)}`, '', ''],
    ['node cache: trimmed vs full V1Node', `${mb(cache.trimmed)} vs ${mb(cache.full)} for ${cache.trimmedCached} nodes (${(cache.full / Math.max(1, cache.trimmed)).toFixed(1)}x)`, '', ''],
    ['API writes per node (ctl + agents)', `${perNode.toFixed(3)} (${controllerOnly} controller: ${nodeReleases} hand-offs + ${controllerOnly - nodeReleases} status/finalizer/events; ${agentWrites} agent)`, '<= 3', yes(perNode <= 3)],
    ['API reads by the controller (rollout)', `${r.requests.reads} (${JSON.stringify(r.requests.byVerb)})`, '', ''],
    ['reconcile latency p50 / p99 / max', `${ms(p50)} / ${ms(p99)} / ${ms(Math.max(0, ...lat))} (${lat.length} runs)`, 'p99 < 50 ms', yes(p99 < 50)],
    ['  of which the planner alone', `${ms(percentile(c.plannerMs, 50))} / ${ms(percentile(c.plannerMs, 99))} / ${ms(Math.max(0, ...c.plannerMs))}`, '', ''],
    ['  API write round trip p50 / p99', `${ms(percentile(c.writeMs, 50))} / ${ms(percentile(c.writeMs, 99))} (${c.writeMs.length} writes; a reconcile waits for its whole batch)`, '', ''],
    ['controller CPU (user + sys)', `${((c.cpuUserMs + c.cpuSystemMs) / 1000).toFixed(2)} s`, '', ''],
    ['bench process CPU (server + agents)', `${(r.parentCpuMs / 1000).toFixed(2)} s`, '', ''],
    ['kubelet restarts / peak concurrent', `${r.restarts} / ${r.maxConcurrentRestarts}`, `${r.nodes} / <= ${r.maxUnavailable}`, yes(r.restarts === r.nodes && r.maxConcurrentRestarts <= r.maxUnavailable)],
    ['controller cache sync', ms(r.syncMs), '', ''],
  ];
  return table(rows);
}

const nodes = Number(arg('nodes') ?? 5000);
const result = await runRolloutBench({
  nodes,
  restartMs: Number(arg('restart-ms') ?? 200),
  agents: arg('agents') === 'real' ? 'real' : 'standin',
  kubelet: arg('kubelet') === 'timer' ? 'timer' : 'sim',
  log: (m) => console.error(m),
});
console.error('rollout done; measuring the node caches');
const cache = await cacheComparison(nodes);
console.log(report(result, cache));
