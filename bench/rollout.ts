// Rollout benchmark: one policy rolled across N simulated nodes (realistic ~4 KB Node objects),
// maxUnavailable 10%, simulated kubelet restart 200 ms, minReadySeconds 0.
//
// The controller runs in a child process (bench/baseline.ts "controller" mode) against the
// embedded API server over real HTTP, so its heap, CPU and requests are its own.
//
// Agents: 5,000 real agents (each a list + watch over HTTP, the API server fanning every Node
// event out to 5,000 field-selected watches) do not fit one process on this machine, so by
// default each node gets an in-process *agent stand-in*: it sees its Node through the store
// (server.store.watch), decides with the real agent's decideAction(), marks Applying, restarts
// the node's SimKubelet (real files on tmpfs, real restart delay), waits for it to be healthy,
// and reports Applied with state-hash / applied-hash / state-time through store.patch: the
// agent protocol minus the HTTP. `--agents real` runs the real agents (SimCluster) instead.
//
// Run: node --import tsx bench/rollout.ts [--nodes 5000] [--restart-ms 200] [--agents standin|real] [--kubelet sim|timer]
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decideAction } from '../src/agent/agent.js';
import { A_APPLIED_HASH, A_MESSAGE, A_STATE, A_STATE_HASH, A_STATE_TIME, REMOVED_HASH } from '../src/api/annotations.js';
import { buildCrd, CRD_NAME } from '../src/api/crd.js';
import { GROUP, PLURAL, VERSION, type NodeTracingPolicy } from '../src/api/types.js';
import { ApiServer, CRDS, NODES } from '../src/sim/apiserver/index.js';
import { SimCluster } from '../src/sim/cluster.js';
import { SimKubelet } from '../src/sim/kubelet/index.js';
import { simNodeObject } from '../src/sim/nodes.js';
import type { ChildMessage, ChildMode, ChildReport } from './baseline.js';

const here = dirname(fileURLToPath(import.meta.url));
const POLICIES = { group: GROUP, version: VERSION, resource: PLURAL };
// Every version here takes tracing, so every node is a target.
const VERSIONS = ['v1.29.14', 'v1.30.10', 'v1.31.6', 'v1.32.2', 'v1.33.1', 'v1.34.0', 'v1.35.2'];

export interface RolloutBenchOptions {
  nodes: number;
  restartMs: number;
  agents: 'standin' | 'real';
  /** Stand-ins only: 'sim' restarts a SimKubelet (reads and validates its YAML files, as the
   *  kubelet does); 'timer' is a bare restartMs timer, to take the simulator's own CPU out. */
  kubelet?: 'sim' | 'timer';
  log?: (msg: string) => void;
}

export interface RolloutBenchResult {
  nodes: number;
  agents: 'standin' | 'real';
  kubelet: 'sim' | 'timer';
  maxUnavailable: number;
  restartMs: number;
  setupMs: number;
  rolloutMs: number;
  idealMs: number;
  controller: ChildReport;
  syncMs: number;
  /** HTTP requests during the rollout (the controller's; stand-in agents use no HTTP). */
  requests: { reads: number; writes: number; byVerb: Record<string, number> };
  /** Writes by the agents (annotation patches). */
  agentWrites: number;
  restarts: number;
  maxConcurrentRestarts: number;
  parentCpuMs: number;
}

export function forkChild(mode: ChildMode, kubeconfig: string): { proc: ChildProcess; synced: Promise<Extract<ChildMessage, { type: 'synced' }>>; report: () => Promise<ChildReport>; stop: () => Promise<void> } {
  // KTO_BENCH_PROF=dir writes a V8 CPU profile of the child there (node --cpu-prof).
  const prof = process.env['KTO_BENCH_PROF'] ? ['--cpu-prof', '--cpu-prof-dir', process.env['KTO_BENCH_PROF']] : [];
  const proc = fork(join(here, 'baseline.ts'), [mode, kubeconfig], { execArgv: ['--import', 'tsx', '--expose-gc', ...prof], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
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
    report: async () => {
      const r = next('report');
      proc.send({ type: 'report' });
      return (await r).report;
    },
    stop: async () => {
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.send({ type: 'stop' });
      const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}

interface BenchKubelet {
  readonly restartLog: Array<{ startedAt: number; readyAt?: number }>;
  init(): Promise<void>;
  restart(): Promise<void>;
  healthy(): Promise<boolean>;
  stop(): void;
}

/** A kubelet that is only its restart delay. */
class TimerKubelet implements BenchKubelet {
  readonly restartLog: Array<{ startedAt: number; readyAt?: number }> = [];
  private ready = true;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly restartMs: number) {}
  async init(): Promise<void> {
    const now = Date.now();
    this.restartLog.push({ startedAt: now, readyAt: now });
  }
  async restart(): Promise<void> {
    const rec: { startedAt: number; readyAt?: number } = { startedAt: Date.now() };
    this.restartLog.push(rec);
    this.ready = false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      rec.readyAt = Date.now();
      this.ready = true;
    }, this.restartMs);
  }
  async healthy(): Promise<boolean> {
    return this.ready;
  }
  stop(): void {
    clearTimeout(this.timer);
  }
}

/** The in-process agent stand-ins: the agent protocol through the store, a kubelet per node. */
class StandIns {
  readonly kubelets = new Map<string, BenchKubelet>();
  private readonly latest = new Map<string, Record<string, string>>();
  private readonly finished = new Map<string, string>();
  private readonly busy = new Set<string>();
  writes = 0;
  private stopWatch: (() => void) | undefined;

  constructor(
    private readonly server: ApiServer,
    private readonly restartMs: number,
    private readonly kind: 'sim' | 'timer',
  ) {}

  async init(names: string[], versionOf: (i: number) => string, root: string): Promise<void> {
    // A few at a time: 5,000 layouts at once would open too many files.
    for (let i = 0; i < names.length; i += 100) {
      await Promise.all(names.slice(i, i + 100).map(async (name, j) => {
        const k: BenchKubelet = this.kind === 'timer'
          ? new TimerKubelet(this.restartMs)
          : new SimKubelet({ nodeName: name, version: versionOf(i + j), root: join(root, name), restartMs: this.restartMs });
        await k.init();
        this.kubelets.set(name, k);
      }));
    }
    this.stopWatch = this.server.store.watch(NODES, {}, (type, obj) => {
      const name = obj.metadata.name ?? '';
      if (type === 'DELETED') return;
      this.latest.set(name, (obj.metadata as { annotations?: Record<string, string> }).annotations ?? {});
      this.kick(name);
    });
  }

  private patch(name: string, annotations: Record<string, string | null>): void {
    this.writes++;
    this.server.store.patch(NODES, name, 'merge', { metadata: { annotations } });
  }

  private kick(name: string): void {
    if (this.busy.has(name)) return;
    const action = decideAction(this.latest.get(name), this.finished.get(name));
    if (action.kind !== 'apply') return;
    this.busy.add(name);
    void this.apply(name, action.hash, action.config === null).finally(() => {
      this.busy.delete(name);
      this.kick(name);
    });
  }

  private async apply(name: string, hash: string, remove: boolean): Promise<void> {
    const k = this.kubelets.get(name);
    if (!k) return;
    const now = (): string => new Date().toISOString();
    this.patch(name, { [A_STATE]: 'Applying', [A_STATE_HASH]: hash, [A_MESSAGE]: null, [A_STATE_TIME]: now() });
    await k.restart();
    while (!(await k.healthy())) await new Promise((r) => setTimeout(r, 5));
    this.finished.set(name, hash);
    this.patch(name, { [A_STATE]: 'Applied', [A_STATE_HASH]: hash, [A_APPLIED_HASH]: remove ? REMOVED_HASH : hash, [A_MESSAGE]: null, [A_STATE_TIME]: now() });
  }

  restarts(): number {
    let n = 0;
    for (const k of this.kubelets.values()) n += k.restartLog.length - 1;
    return n;
  }

  maxConcurrent(): number {
    const edges: Array<[number, number]> = [];
    for (const k of this.kubelets.values()) {
      for (const r of k.restartLog.slice(1)) {
        edges.push([r.startedAt, 1]);
        if (r.readyAt !== undefined) edges.push([r.readyAt, -1]);
      }
    }
    edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let cur = 0;
    let peak = 0;
    for (const [, d] of edges) peak = Math.max(peak, (cur += d));
    return peak;
  }

  stop(): void {
    this.stopWatch?.();
    for (const k of this.kubelets.values()) k.stop();
  }
}

function converged(p: NodeTracingPolicy | undefined): boolean {
  const s = p?.status;
  return Boolean(s && s.observedGeneration === p?.metadata.generation && s.targetNodes !== undefined && s.targetNodes > 0 && s.updatedNodes === s.targetNodes &&
    s.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

export async function runRolloutBench(o: RolloutBenchOptions): Promise<RolloutBenchResult> {
  const log = o.log ?? (() => undefined);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const maxUnavailable = Math.max(1, Math.floor(o.nodes / 10));
  const root = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'kto-bench-'));
  let server: ApiServer;
  let standIns: StandIns | undefined;
  let cluster: SimCluster | undefined;
  const names = Array.from({ length: o.nodes }, (_, i) => `node-${String(i + 1).padStart(String(o.nodes).length, '0')}`);
  if (o.agents === 'real') {
    cluster = await SimCluster.start({ nodes: o.nodes, versions: VERSIONS, restartMs: o.restartMs, installCrd: true });
    server = cluster.server;
  } else {
    server = new ApiServer();
    await server.start();
    server.store.create(CRDS, buildCrd());
    names.forEach((name, i) => server.store.create(NODES, simNodeObject(name, i, VERSIONS[i % VERSIONS.length] ?? 'v1.33.1')));
    standIns = new StandIns(server, o.restartMs, o.kubelet ?? 'sim');
    await standIns.init(names, (i) => VERSIONS[i % VERSIONS.length] ?? 'v1.33.1', root);
  }
  if (!server.store.tryGet(CRDS, CRD_NAME)) server.store.create(CRDS, buildCrd());
  const kubeconfig = join(root, 'kubeconfig');
  await server.writeKubeconfig(kubeconfig);
  log(`set up ${o.nodes} nodes (${o.agents}) in ${(performance.now() - t0).toFixed(0)} ms`);

  const ctl = forkChild('controller', kubeconfig);
  try {
    const synced = await ctl.synced;
    log(`controller synced in ${synced.syncMs.toFixed(0)} ms`);
    server.resetRequestCounts();
    const setupMs = performance.now() - t0;
    const start = performance.now();
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
      await new Promise((r) => setTimeout(r, 20));
    }
    const rolloutMs = performance.now() - start;
    const requests = server.requestCounts();
    const controller = await ctl.report();
    const cpu = process.cpuUsage(cpu0);
    const restarts = standIns ? standIns.restarts() : (cluster?.restarts().length ?? 0);
    const maxConcurrentRestarts = standIns ? standIns.maxConcurrent() : (cluster?.maxConcurrentRestarts() ?? 0);
    return {
      nodes: o.nodes, agents: o.agents, kubelet: o.agents === 'real' ? 'sim' : (o.kubelet ?? 'sim'), maxUnavailable, restartMs: o.restartMs, setupMs, rolloutMs,
      idealMs: Math.ceil(o.nodes / maxUnavailable) * o.restartMs, controller, syncMs: synced.syncMs, requests,
      // Real agents write over HTTP (already in `requests`): count them apart by node patches.
      agentWrites: standIns ? standIns.writes : 0, restarts, maxConcurrentRestarts, parentCpuMs: (cpu.user + cpu.system) / 1000,
    };
  } finally {
    await ctl.stop();
    standIns?.stop();
    if (cluster) await cluster.stop();
    else await server.stop();
    await rm(root, { recursive: true, force: true });
  }
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await runRolloutBench({
    nodes: Number(arg('nodes') ?? 5000),
    restartMs: Number(arg('restart-ms') ?? 200),
    agents: arg('agents') === 'real' ? 'real' : 'standin',
    kubelet: arg('kubelet') === 'timer' ? 'timer' : 'sim',
    log: (m) => console.error(m),
  });
  console.log(JSON.stringify({ ...r, controller: { ...r.controller, reconcileMs: `${r.controller.reconcileMs.length} samples`, plannerMs: `${r.controller.plannerMs.length} samples`, writeMs: `${r.controller.writeMs.length} samples` } }, null, 2));
}
