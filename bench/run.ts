// `npm run bench`: the rollout benchmark (bench/rollout.ts) with the real agent on every node, at
// each restart time asked for (default 200 ms and 2 s), each printed as a table of the
// controller's own figures beside the harness's, with the targets; then the cache-memory
// comparison with a naive full-object cache (bench/baseline.ts).
// Options: --nodes N (default 5000), --restart-ms 200,2000, --profile-dir DIR (default: a temp
// dir), --no-profile (no CPU profiler running: figures without its cost, and no summary of
// where the time went), --no-cache-comparison.
//
// What is counted (controller figures are measured inside the controller process, over the
// rollout: from creating the policy to status Ready with updatedNodes == targetNodes):
//  - rollout time against ideal = ceil(N / maxUnavailable) * restart;
//  - slot hand-over: from the Node watch event that frees a slot (the agent's Applied report on
//    a Ready node) to the release write that fills it being sent, paired first-in first-out;
//  - reconcile: wall time of each Reconciler.reconcile run, its writes included;
//  - controller CPU (user + sys) per node rolled; harness CPU (API server, agents, kubelets), on
//    Linux also by thread (/proc): the API server's (with the kubelets and their heartbeats), the
//    agents' worker and the rest (V8's collector, libuv's pool);
//  - two floors for the rollout's wall time, from the CPU it took: its busiest thread's CPU time
//    (a thread runs on one core at a time), and all of it, harness and controller, over the
//    machine's cores. A rollout near a floor is bound by that CPU, not by waiting;
//  - controller heap: heapUsed after a full GC, after the rollout;
//  - API writes: the controller's node hand-offs and the agents' reports, per node; the
//    per-rollout writes (status, finalizer, events) apart;
//  - watch bytes: bytes the controller's watch connections received, per node.
// Where a target is missed, the top self-time functions of the controller's and the harness's
// CPU profiles of the rollout window are printed.
// Where the rollout runs over its ideal, a table by wave (maxUnavailable nodes each, in the order
// released) says in which waves and in which step of a node's turn the time went.
// `npm run bench` runs the harness with --max-semi-space-size=64: a larger young generation keeps
// the agents' per-request garbage from being promoted, which halved the harness's GC time and its
// event-loop stalls. The controller's child runs with Node's defaults, as in production.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCrd } from '../src/api/crd.js';
import { A_APPLIED_HASH, A_DESIRED_CONFIG, A_DESIRED_HASH, A_DESIRED_TIME, A_POLICY, A_STATE, A_STATE_HASH, A_STATE_TIME } from '../src/api/annotations.js';
import { ApiServer, CRDS, NODES } from '../src/sim/apiserver/index.js';
import { simNodeObject } from '../src/sim/nodes.js';
import { summarize } from './cpuprofile.js';
import { forkChild, percentile, runRolloutBench, type RolloutBenchResult } from './rollout.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const MB = 1024 * 1024;
const mb = (b: number): string => `${(b / MB).toFixed(1)} MB`;
const ms = (v: number): string => `${v.toFixed(v < 10 ? 2 : 0)} ms`;

const dist = (xs: number[], what: string): string => `${ms(percentile(xs, 50))} / ${ms(percentile(xs, 99))} / ${ms(Math.max(0, ...xs))} (${xs.length} ${what})`;

/** Cache memory of the two informers over the same N nodes, as they look mid-rollout. */
async function cacheComparison(nodes: number): Promise<{ full: number; trimmed: number; cached: number }> {
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
      server.store.createEntry(NODES, n);
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
    const [full] = await measure('full-cache');
    const [trimmed, cached] = await measure('trimmed-cache');
    return { full, trimmed, cached };
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

interface Verdicts {
  rollout: boolean;
  handover: boolean;
  cpu: boolean;
  heap: boolean;
  writes: boolean;
}

function report(r: RolloutBenchResult): { text: string; met: Verdicts } {
  const c = r.controller;
  const n = r.nodes;
  const ratio = r.rolloutMs / r.idealMs;
  const ratioTarget = r.restartMs >= 2000 ? 1.1 : 1.5;
  const ctlCpu = c.cpuUserMs + c.cpuSystemMs;
  const perNodeWrites = (c.nodeWrites + r.agentWrites) / n;
  const met: Verdicts = {
    rollout: ratio <= ratioTarget,
    handover: percentile(c.handoverMs, 99) < 50,
    cpu: ctlCpu / n < 0.3,
    heap: c.heapNow <= 64 * MB,
    writes: perNodeWrites <= 3,
  };
  const yes = (b: boolean): string => (b ? 'met' : 'NOT met');
  const rows = [
    ['metric', 'value', 'target', ''],
    ['nodes / agents', `${n} / the real agent (runAgent) on every node, over HTTP`, '', ''],
    ['maxUnavailable / kubelet restart', `${r.maxUnavailable} (10%) / ${r.restartMs} ms`, '', ''],
    ['rollout wall time', `${ms(r.rolloutMs)} (ideal ${ms(r.idealMs)}, ${ratio.toFixed(2)}x)`, `<= ${ratioTarget.toFixed(2)}x ideal`, yes(met.rollout)],
    ['slot hand-over p50 / p99 / max', dist(c.handoverMs, 'hand-overs'), 'p99 < 50 ms', yes(met.handover)],
    ['reconcile p50 / p99 / max', dist(c.reconcileMs, 'runs'), '', ''],
    ['  planner alone p50 / p99 / max', dist(c.plannerMs, 'runs'), '', ''],
    ['  write round trip p50 / p99 / max', dist(c.writeMs, 'writes'), '', ''],
    ['harness, per node: release -> kubelet restart', dist(r.phases.reactMs, 'nodes'), '', ''],
    ['  kubelet restart -> healthy', dist(r.phases.restartMs, 'nodes'), '', ''],
    ['  healthy -> agent reports Applied', dist(r.phases.reportMs, 'nodes'), '', ''],
    ['controller CPU per node rolled', `${(ctlCpu / n).toFixed(3)} ms (${(ctlCpu / 1000).toFixed(2)} s in all)`, '< 0.3 ms', yes(met.cpu)],
    ['harness CPU (API server, agents, kubelets)', `${(r.harnessCpuMs / 1000).toFixed(2)} s (${(r.harnessCpuMs / n).toFixed(2)} ms per node)`, '', ''],
    ...threadRows(r),
    ['event-loop delay p50 / p99 / max: controller', r.controller.loopDelayMs.map(ms).join(' / '), '', ''],
    ['  harness', r.harnessLoopDelayMs.map(ms).join(' / '), '', ''],
    ['controller heap after rollout', `${mb(c.heapNow)} (+${mb(c.heapNow - c.heapBefore)} over its empty process; ${mb(c.heapSynced)} after sync)`, '<= 64 MB', yes(met.heap)],
    ['controller RSS now / peak', `${mb(c.rss)} / ${mb(c.rssPeak)}`, '', ''],
    ['API writes per node', `${perNodeWrites.toFixed(3)} (${c.nodeWrites} hand-offs + ${r.agentWrites} agent reports); per rollout: ${c.otherWrites} status/finalizer/event writes`, '<= 3', yes(met.writes)],
    ['watch bytes received per node', `${(c.watchBytes / n / 1024).toFixed(1)} KB (${mb(c.watchBytes)} in all)`, '', ''],
    ['requests served during the rollout', JSON.stringify(r.requests.byVerb), '', ''],
    ['kubelet restarts / peak concurrent', `${r.restarts} / ${r.maxConcurrentRestarts}`, `${n} / <= ${r.maxUnavailable}`, yes(r.restarts === n && r.maxConcurrentRestarts <= r.maxUnavailable)],
    ['cluster start / controller cache sync', `${ms(r.clusterStartMs)} / ${ms(r.syncMs)}`, '', ''],
  ];
  return { text: table(rows), met };
}

/** The harness's CPU by thread, and the floors the CPU sets for the rollout's wall time: a thread
 *  runs on one core at a time, and the whole machine has availableParallelism() of them. */
function threadRows(r: RolloutBenchResult): string[][] {
  const t = r.harnessThreadsMs;
  if (!t) return [];
  const s = (v: number): string => `${(v / 1000).toFixed(2)} s`;
  const x = (v: number): string => `${(v / r.idealMs).toFixed(2)}x`;
  const [name, busiest] = t.agents >= t.server ? ['agents', t.agents] : ['API server', t.server];
  const cores = availableParallelism();
  const all = (r.harnessCpuMs + r.controller.cpuUserMs + r.controller.cpuSystemMs) / cores;
  return [
    ['  by thread: API server / agents / other', `${s(t.server)} / ${s(t.agents)} / ${s(t.other)} (other: V8's collector, libuv's pool)`, '', ''],
    ['rollout floor: busiest thread / all CPU on the cores', `${s(busiest)} (${name}) / ${s(all)} (${cores} cores): ${x(busiest)} / ${x(all)} ideal`, '', ''],
  ];
}

/** Each wave's turns: when it was released and restarted, and where its nodes' time went. */
function waveTable(r: RolloutBenchResult): string {
  const rows = [['wave', 'released', 'restarts begun (first / median / last)', 'release -> restart p50 / p99', 'restart p99', 'healthy -> Applied p99', 'last Applied']];
  r.waves.forEach((w, i) => {
    rows.push([String(i), `${w.released[0].toFixed(0)}-${w.released[1].toFixed(0)}`, w.restarted.map((v) => v.toFixed(0)).join(' / '), w.reactMs.map((v) => v.toFixed(0)).join(' / '), w.restartMs[1].toFixed(0), w.reportMs[1].toFixed(0), w.doneMs.toFixed(0)]);
  });
  return table(rows);
}

const nodes = Number(arg('nodes') ?? 5000);
const restarts = (arg('restart-ms') ?? '200,2000').split(',').map(Number);
const profileDir = process.argv.includes('--no-profile') ? undefined : (arg('profile-dir') ?? (await mkdtemp(join(tmpdir(), 'kto-bench-prof-'))));
// A --profile-dir that does not exist yet is made: the controller's child writes its profile there.
if (profileDir) await mkdir(profileDir, { recursive: true });
const out: string[] = [];
for (const restartMs of restarts) {
  const r = await runRolloutBench({ nodes, restartMs, ...(profileDir ? { profileDir } : {}), log: (m) => console.error(m) });
  const { text, met } = report(r);
  out.push(`## ${nodes} nodes, kubelet restart ${restartMs} ms\n\n${text}`);
  const missed = Object.entries(met).filter(([, ok]) => !ok).map(([k]) => k);
  if (!met.rollout) out.push(`The rollout by wave (${r.maxUnavailable} nodes each, in the order released; ms from the policy's creation):\n\n${waveTable(r)}`);
  if (missed.length > 0 && profileDir) {
    out.push(`Missed: ${missed.join(', ')}. Where the CPU went during the rollout (profiles in ${profileDir}):`);
    if (r.controller.profile) out.push(`controller (${r.controller.profile}):\n${summarize(r.controller.profile, 12)}`);
    if (r.harnessProfile) out.push(`harness (${r.harnessProfile}):\n${summarize(r.harnessProfile, 12)}`);
  } else if (missed.length > 0) {
    out.push(`Missed: ${missed.join(', ')}.`);
  }
}
if (!process.argv.includes('--no-cache-comparison')) {
  console.error('measuring the node caches');
  const cache = await cacheComparison(nodes);
  out.push(`Node cache of the controller (trimmed) vs whole V1Node objects, ${cache.cached} nodes: ${mb(cache.trimmed)} vs ${mb(cache.full)} (${(cache.full / Math.max(1, cache.trimmed)).toFixed(1)}x)`);
}
console.log(`\n${out.join('\n\n')}`);
