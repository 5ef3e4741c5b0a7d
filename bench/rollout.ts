// Rollout benchmark: one policy rolled across N simulated nodes (realistic ~5 KB Node objects),
// maxUnavailable 10%, minReadySeconds 0, every node running the real agent (runAgent, the loop
// `kto agent` runs: list + watch of its own Node over HTTP, files written, simulated kubelet
// restarted, reports patched over HTTP).
//
// Two processes, so each side's figures are its own:
//  - the controller, in a child process (bench/baseline.ts "controller" mode), measuring itself;
//  - the harness, this process: the embedded API server, the N agents and their kubelets, the
//    kubelets' heartbeats. Its CPU is printed beside the controller's.
// Both can be CPU-profiled over the rollout window (V8 sampling profiler, every PROFILE_INTERVAL_US:
// at V8's default of 1 ms the profilers themselves cost the harness about 15% more CPU and the
// controller 0.3 ms or more per node, which the figures then reported as theirs).
//
// Run: node --import tsx bench/rollout.ts [--nodes 5000] [--restart-ms 200] [--profile DIR]
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { A_DESIRED_TIME, A_STATE_TIME } from '../src/api/annotations.js';
import { GROUP, PLURAL, VERSION, type NodeTracingPolicy } from '../src/api/types.js';
import { NODES } from '../src/sim/apiserver/index.js';
import type { SimCluster } from '../src/sim/cluster.js';
import { Stack } from '../src/wiring.js';
import type { ChildMessage, ChildMode, ChildReport, ParentMessage } from './baseline.js';
import { PROFILE_INTERVAL_US } from './cpuprofile.js';
import { threadCpuMs } from './procfs.js';

const here = dirname(fileURLToPath(import.meta.url));
const LOOP_RESOLUTION_MS = 5;
const POLICIES = { group: GROUP, version: VERSION, resource: PLURAL };
// Every version here takes tracing, so every node is a target.
export const VERSIONS = ['v1.29.14', 'v1.30.10', 'v1.31.6', 'v1.32.2', 'v1.33.1', 'v1.34.0', 'v1.35.2'];

export interface RolloutBenchOptions {
  nodes: number;
  restartMs: number;
  /** Write CPU profiles of the rollout window (controller and harness) into this directory. */
  profileDir?: string;
  log?: (msg: string) => void;
}

export interface RolloutBenchResult {
  nodes: number;
  maxUnavailable: number;
  restartMs: number;
  /** Embedded cluster start: API server, nodes, kubelets, every agent watching. */
  clusterStartMs: number;
  syncMs: number;
  rolloutMs: number;
  idealMs: number;
  controller: ChildReport;
  /** HTTP requests the API server served during the rollout (controller and agents). */
  requests: { reads: number; writes: number; byVerb: Record<string, number> };
  /** Writes by the agents (their annotation patches): all writes but the controller's. */
  agentWrites: number;
  restarts: number;
  maxConcurrentRestarts: number;
  /** CPU of this process (API server, agents, kubelets, heartbeats) over the rollout. */
  harnessCpuMs: number;
  /** The harness's CPU by thread, from /proc (Linux; absent elsewhere): the API server's thread
   *  (with the kubelets and their heartbeats), the agents' worker thread, and the rest (V8's
   *  collector and compiler threads, libuv's pool). A thread cannot run on two cores: the
   *  busiest one's CPU time is a floor for the rollout's wall time. */
  harnessThreadsMs?: { server: number; agents: number; other: number };
  /** The harness's event-loop delay over the rollout (p50, p99, max; ms): how late anything
   *  in it (a watch event, a timer, a file write's completion) ran. */
  harnessLoopDelayMs: [number, number, number];
  harnessProfile?: string;
  /** Per node, the harness's side of its turn: from the controller's release (desired-time) to
   *  the kubelet restart beginning (the agent reacting), the restart itself, and from the kubelet
   *  healthy to the agent's Applied report (state-time). */
  phases: { reactMs: number[]; restartMs: number[]; reportMs: number[] };
  /** The same turns by wave: the nodes in the order they were released, maxUnavailable at a time
   *  (times in ms from the policy's creation). Where a rollout runs over its ideal, this says in
   *  which waves and in which step. */
  waves: Wave[];
}

/** CPU time so far of this process's main thread (the API server's) and of the agents' worker
 *  thread, from /proc: undefined where either cannot be read. */
async function threadsCpu(cluster: SimCluster): Promise<{ server: number; agents: number } | undefined> {
  const tid = cluster.agentThreadId;
  if (tid === undefined) return undefined;
  const [server, agents] = await Promise.all([threadCpuMs(process.pid, process.pid), threadCpuMs(process.pid, tid)]);
  return server === undefined || agents === undefined ? undefined : { server, agents };
}

function threadSplit(a: { server: number; agents: number }, b: { server: number; agents: number }, totalMs: number): { server: number; agents: number; other: number } {
  const server = b.server - a.server;
  const agents = b.agents - a.agents;
  // /proc counts in 10 ms ticks, process.cpuUsage in µs: the rest is never below 0.
  return { server, agents, other: Math.max(0, totalMs - server - agents) };
}

/** A node's turn on the harness's side: released, restart began, healthy, reported (epoch ms). */
export type Turn = [number, number, number, number];

export interface Wave {
  /** First and last release (the controller's desired-time) of the wave. */
  released: [number, number];
  /** Kubelet restarts begun: first, median, last. */
  restarted: [number, number, number];
  /** p50 and p99 of release -> restart, of restart -> healthy, and of healthy -> Applied. */
  reactMs: [number, number];
  restartMs: [number, number];
  reportMs: [number, number];
  /** The wave's last Applied report. */
  doneMs: number;
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
}

/** Turns grouped into waves of `size`, in the order released. */
export function waves(turns: Turn[], size: number, t0: number): Wave[] {
  const sorted = [...turns].sort((a, b) => a[0] - b[0]);
  const out: Wave[] = [];
  for (let i = 0; i < sorted.length; i += size) {
    const g = sorted.slice(i, i + size);
    const at = (k: 0 | 1 | 3): number[] => g.map((t) => t[k] - t0);
    const step = (from: 0 | 1 | 2, to: 1 | 2 | 3): [number, number] => {
      const d = g.map((t) => t[to] - t[from]);
      return [percentile(d, 50), percentile(d, 99)];
    };
    const started = at(1);
    out.push({
      released: [Math.min(...at(0)), Math.max(...at(0))],
      restarted: [Math.min(...started), percentile(started, 50), Math.max(...started)],
      reactMs: step(0, 1), restartMs: step(1, 2), reportMs: step(2, 3),
      doneMs: Math.max(...at(3)),
    });
  }
  return out;
}

/** Each node's turn on the harness's side, from its annotations and its kubelet's log. */
function turnsOf(cluster: SimCluster): Turn[] {
  const out: Turn[] = [];
  for (const n of cluster.server.store.list<{ metadata: { name: string; annotations?: Record<string, string> } }>(NODES).items) {
    const restart = cluster.kubelets.get(n.metadata.name)?.restartLog[1];
    const released = Date.parse(n.metadata.annotations?.[A_DESIRED_TIME] ?? '');
    const reported = Date.parse(n.metadata.annotations?.[A_STATE_TIME] ?? '');
    if (!restart || restart.readyAt === undefined || Number.isNaN(released) || Number.isNaN(reported)) continue;
    out.push([released, restart.startedAt, restart.readyAt, reported]);
  }
  return out;
}

/** Where the turns went: release -> restart, the restart, healthy -> Applied. */
function phases(turns: Turn[]): RolloutBenchResult['phases'] {
  return { reactMs: turns.map((t) => t[1] - t[0]), restartMs: turns.map((t) => t[2] - t[1]), reportMs: turns.map((t) => t[3] - t[2]) };
}

type Child = {
  proc: ChildProcess;
  synced: Promise<Extract<ChildMessage, { type: 'synced' }>>;
  send: (m: ParentMessage) => void;
  /** Sends the mark and waits until the child counts from it (its profiler, if asked for, started). */
  mark: (m: Extract<ParentMessage, { type: 'mark' }>) => Promise<void>;
  report: () => Promise<ChildReport>;
  stop: () => Promise<void>;
};

export function forkChild(mode: ChildMode, kubeconfig: string): Child {
  const proc = fork(join(here, 'baseline.ts'), [mode, kubeconfig], { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = <T extends ChildMessage['type']>(type: T): Promise<Extract<ChildMessage, { type: T }>> =>
    new Promise((resolve, reject) => {
      const onMsg = (m: ChildMessage): void => {
        if (m.type !== type) return;
        proc.off('message', onMsg);
        proc.off('exit', onExit);
        resolve(m as Extract<ChildMessage, { type: T }>);
      };
      const onExit = (code: number | null): void => reject(new Error(`${mode} child exited (${code}) before '${type}'`));
      proc.on('message', onMsg);
      proc.once('exit', onExit);
    });
  return {
    proc,
    synced: next('synced'),
    send: (m) => void proc.send(m),
    mark: async (m) => {
      const marked = next('marked');
      proc.send(m);
      await marked;
    },
    report: async () => {
      const r = next('report');
      proc.send({ type: 'report' } satisfies ParentMessage);
      return (await r).report;
    },
    stop: async () => {
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.send({ type: 'stop' } satisfies ParentMessage);
      const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}

function converged(p: NodeTracingPolicy | undefined): boolean {
  const s = p?.status;
  return Boolean(s && s.observedGeneration === p?.metadata.generation && s.targetNodes !== undefined && s.targetNodes > 0 && s.updatedNodes === s.targetNodes &&
    s.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

/** Samples this process's CPU over a window (inspector session: no flag, no restart). */
async function profileSelf(): Promise<{ stop: (file: string) => Promise<void> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: PROFILE_INTERVAL_US });
  await session.post('Profiler.start');
  return {
    stop: async (file) => {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

export async function runRolloutBench(o: RolloutBenchOptions): Promise<RolloutBenchResult> {
  const log = o.log ?? (() => undefined);
  const maxUnavailable = Math.max(1, Math.floor(o.nodes / 10));
  const dir = await mkdtemp(join(tmpdir(), 'kto-bench-'));
  const t0 = performance.now();
  const stack = await Stack.start({ cluster: { nodes: o.nodes, versions: VERSIONS, restartMs: o.restartMs, installCrd: true, agentThread: {} } });
  const { cluster } = stack;
  const clusterStartMs = performance.now() - t0;
  const server = cluster.server;
  const kubeconfig = join(dir, 'kubeconfig');
  await server.writeKubeconfig(kubeconfig);
  log(`cluster of ${o.nodes} nodes (every agent watching) in ${clusterStartMs.toFixed(0)} ms`);

  const ctl = forkChild('controller', kubeconfig);
  try {
    const synced = await ctl.synced;
    log(`controller synced in ${synced.syncMs.toFixed(0)} ms`);
    server.resetRequestCounts();
    const tag = `${o.nodes}n-${o.restartMs}ms`;
    const harnessProf = o.profileDir ? await profileSelf() : undefined;
    // The clock starts once the controller counts (its profiler, when asked for, takes ~0.1 s to
    // start, and that is not the rollout's).
    await ctl.mark({ type: 'mark', maxUnavailable, ...(o.profileDir ? { profile: join(o.profileDir, `controller-${tag}.cpuprofile`) } : {}) });
    const cpu0 = process.cpuUsage();
    const threads0 = await threadsCpu(cluster);
    const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    loop.enable();
    const start = performance.now();
    const startWall = Date.now();
    server.store.create(POLICIES, {
      apiVersion: `${GROUP}/${VERSION}`, kind: 'NodeTracingPolicy', metadata: { name: 'bench' },
      spec: { tracing: { endpoint: 'otel-collector.observability.svc:4317', samplingRatePerMillion: 10_000 }, rollout: { maxUnavailable: '10%', minReadySeconds: 0, nodeTimeoutSeconds: 600 } },
    });
    let lastLog = start;
    for (;;) {
      const p = server.store.tryGet<NodeTracingPolicy>(POLICIES, 'bench');
      if (converged(p)) break;
      if (performance.now() - lastLog >= 2000) {
        lastLog = performance.now();
        log(`  ${p?.status?.updatedNodes ?? 0}/${o.nodes} updated at ${(lastLog - start).toFixed(0)} ms`);
      }
      if (performance.now() - start > 20 * 60_000) throw new Error('rollout did not converge in 20 minutes');
      await new Promise((r) => setTimeout(r, 10));
    }
    const rolloutMs = performance.now() - start;
    const cpu = process.cpuUsage(cpu0);
    const harnessCpuMs = (cpu.user + cpu.system) / 1000;
    const threads1 = await threadsCpu(cluster);
    loop.disable();
    // The histogram holds the sampling interval plus the delay: keep the delay.
    const harnessLoopDelayMs = [loop.percentile(50), loop.percentile(99), loop.max].map((ns) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS)) as [number, number, number];
    // The server counts a request when it arrives, the controller its write when it is answered:
    // the writes that follow the converged status (its condition's Event) are let finish, so the
    // two counts cover the same writes.
    await new Promise((r) => setTimeout(r, 500));
    const requests = server.requestCounts();
    const controller = await ctl.report();
    const harnessProfile = o.profileDir ? join(o.profileDir, `harness-${tag}.cpuprofile`) : undefined;
    if (harnessProf && harnessProfile) await harnessProf.stop(harnessProfile);
    const turns = turnsOf(cluster);
    return {
      nodes: o.nodes, maxUnavailable, restartMs: o.restartMs, clusterStartMs, syncMs: synced.syncMs, rolloutMs,
      idealMs: Math.ceil(o.nodes / maxUnavailable) * o.restartMs, controller, requests,
      agentWrites: requests.writes - controller.nodeWrites - controller.otherWrites,
      restarts: cluster.restarts().length, maxConcurrentRestarts: cluster.maxConcurrentRestarts(),
      harnessCpuMs, harnessLoopDelayMs,
      ...(threads0 && threads1 ? { harnessThreadsMs: threadSplit(threads0, threads1, harnessCpuMs) } : {}), ...(harnessProfile ? { harnessProfile } : {}), phases: phases(turns),
      waves: waves(turns, maxUnavailable, startWall),
    };
  } finally {
    await ctl.stop();
    await stack.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const profileDir = arg('profile');
  const r = await runRolloutBench({
    nodes: Number(arg('nodes') ?? 5000),
    restartMs: Number(arg('restart-ms') ?? 200),
    ...(profileDir ? { profileDir } : {}),
    log: (m) => console.error(m),
  });
  const samples = (xs: number[]): string => `${xs.length} samples`;
  console.log(JSON.stringify({ ...r, phases: samples(r.phases.reactMs), controller: { ...r.controller, reconcileMs: samples(r.controller.reconcileMs), plannerMs: samples(r.controller.plannerMs), writeMs: samples(r.controller.writeMs), handoverMs: samples(r.controller.handoverMs) } }, null, 2));
}
