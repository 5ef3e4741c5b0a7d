// The embedded cluster: the API server, one simulated node per host directory, the kubelets'
// heartbeats (Leases) with a node lifecycle controller following them, and (by default) the real
// node agent on every node — what `kto sim`, `kto demo` and the integration tests run. There is
// one copy of this wiring; the demo is this plus the controller.
// client-node (and the agent, which needs it) is loaded only when agents run in this thread: it is
// 26 MB of this thread's heap, and half a second of start, which `kto sim` with its agents in a
// worker thread does without (a client of the cluster makes its KubeConfig: sim/kubeconfig.ts).
import { statfsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import type { RunAgentOptions } from '../agent/agent.js';
import type { PooledKubeConfig } from '../kube/pool.js';
import { type Logger, type LogLevel, withFields } from '../log.js';
import { AgentThread, type AgentSpec, simAgentOptions } from './agent-thread.js';
import { ApiServer } from './apiserver/index.js';
import { CRDS, NODES, resKey } from './apiserver/types.js';
import { buildCrd, CRD_NAME } from '../api/crd.js';
import { NodeHeartbeats } from './heartbeat.js';
import { SimKubelet, type RestartRecord } from './kubelet/index.js';
import { KubeletTracing, type KubeletTracingOptions } from './kubelet/tracing.js';
import { NodeLifecycleController } from './lifecycle.js';
import { simNodeName, simNodeObject } from './nodes.js';
import { reportKubeletVersion, simControl } from './node-control.js';
import type { DriftOptions } from '../agent/drift-watch.js';

export const DEFAULT_VERSIONS = ['v1.24.17', 'v1.25.16', 'v1.26.15', 'v1.27.16', 'v1.28.15', 'v1.29.14', 'v1.30.10', 'v1.31.6', 'v1.32.2', 'v1.33.1', 'v1.34.0', 'v1.35.2'];

export interface SimClusterOptions {
  nodes: number;
  /** Kubelet versions, cycled over the nodes. */
  versions?: string[];
  /** Simulated kubelet restart time. */
  restartMs?: number;
  /** Node names whose kubelet rejects any tracing config (to show rollback). */
  failNodes?: string[];
  port?: number;
  /** Persist the API server's state here (restart survives). */
  stateDir?: string;
  /** Run the real agent on every node (default true). */
  agents?: boolean;
  /** How long a node's Lease may go unrenewed before the node lifecycle controller marks it
   *  NotReady (node-monitor-grace-period; also the Leases' duration). Default 40 s. */
  notReadyAfterMs?: number;
  /** Keep host directories on stop. */
  keep?: boolean;
  /** Agent health timeout after a restart. */
  agentTimeoutMs?: number;
  agentLog?: Logger;
  /** Per-node agent hooks (telemetry: the apply and phase spans, agent metrics). */
  agentHooks?: (node: string) => Pick<RunAgentOptions, 'wrapApply' | 'onPhase' | 'onDrift'>;
  /** The agents' drift watch (default on, with its defaults); false: off. */
  agentDrift?: DriftOptions | false;
  gitVersion?: string;
  /** The admin bearer token (default: derived from the server's signing key). A replacement
   *  server given the old one keeps the credentials, as an etcd restore does. */
  adminToken?: string;
  /** Install the NodeTracingPolicy CRD at start, as installing the chart would. */
  installCrd?: boolean;
  /** Runs once the API server is up, before the nodes and agents exist (e.g. install the chart's RBAC). */
  beforeNodes?: (server: ApiServer) => Promise<void>;
  /** Each agent's kubeconfig (default: the admin's), e.g. a Node-bound ServiceAccount token's. */
  agentKubeConfig?: (node: string, server: ApiServer) => k8s.KubeConfig;
  /** Kubelets whose config has `tracing` export spans, as a real kubelet does (default: none do). */
  kubeletSpans?: KubeletTracingOptions;
  /** Run the agents in a worker thread of their own (a second core beside the API server), each
   *  still the real agent over HTTP, agentDrift honoured; they log at logLevel (none: silent).
   *  Functions (agentLog, agentHooks, agentKubeConfig, agentDrift.watch) cannot cross to a
   *  thread: refused with this. */
  agentThread?: { logLevel?: LogLevel };
  /** start() resolves only once every agent watches its Node (default true); with false, the
   *  agents come up in the background, as a DaemonSet rolls out (see agentsReady()). */
  waitForAgents?: boolean;
}

export interface NodeRestart extends RestartRecord {
  node: string;
}

const TMPFS = '/dev/shm';

/** Where the nodes' host directories go: tmpfs (/dev/shm) when it has room, since thousands of
 *  small files are created at start and rewritten in a rollout (a disk journal made that the
 *  slowest part of starting 5,000 nodes), else the temp dir. */
function hostDirsRoot(nodes: number): string {
  try {
    const fs = statfsSync(TMPFS);
    if (fs.bavail * fs.bsize > 64 * 1024 * 1024 + nodes * 128 * 1024) return TMPFS;
  } catch {
    // no /dev/shm here
  }
  return tmpdir();
}

/** What the agents of this thread run with, loaded when they start. */
interface AgentsHere {
  runAgent: typeof import('../agent/agent.js').runAgent;
  kubeConfig: PooledKubeConfig;
}

/** Agents starting (listing, not yet watching) at any one time. */
const AGENT_WAVE = 100;

export class SimCluster {
  readonly kubelets = new Map<string, SimKubelet>();
  /** The kubelets' span export, when kubeletSpans is set. */
  readonly kubeletTracing: KubeletTracing | undefined;
  private readonly agentAborts: AbortController[] = [];
  private readonly agentRuns: Promise<void>[] = [];
  /** Kubelets running and healthy: the ones that heartbeat. */
  private readonly healthy = new Set<string>();
  private readonly heartbeats: NodeHeartbeats;
  private lifecycle: NodeLifecycleController | undefined;
  /** The agents of this thread share it (made when they start). */
  private agentKubeConfig: PooledKubeConfig | undefined;
  private agentThread: AgentThread | undefined;
  private agentsUp: Promise<void> = Promise.resolve();
  /** The host dirs are in memory: the agents' file steps are cheaper as synchronous calls. */
  private readonly onTmpfs: boolean;
  private stopping = false;
  private constructor(
    readonly server: ApiServer,
    readonly baseDir: string,
    private readonly o: SimClusterOptions,
  ) {
    this.kubeletTracing = o.kubeletSpans && new KubeletTracing(o.kubeletSpans);
    this.onTmpfs = baseDir.startsWith(`${TMPFS}/`);
    this.heartbeats = new NodeHeartbeats({ store: server.store, leaseDurationMs: o.notReadyAfterMs ?? 40_000 });
  }

  static async start(o: SimClusterOptions): Promise<SimCluster> {
    if (o.agentThread && (o.agentLog || o.agentHooks || o.agentKubeConfig || (o.agentDrift && o.agentDrift.watch))) {
      throw new Error('SimClusterOptions.agentThread: agentLog, agentHooks, agentKubeConfig and agentDrift.watch are functions and cannot reach agents in a worker thread');
    }
    const server = new ApiServer({ port: o.port ?? 0, stateDir: o.stateDir, gitVersion: o.gitVersion, adminToken: o.adminToken });
    await server.start();
    const baseDir = await mkdtemp(join(hostDirsRoot(o.nodes), 'kto-sim-'));
    const cluster = new SimCluster(server, baseDir, o);
    try {
      // The agents' thread loads its modules (the agent, client-node: about a second of CPU) on
      // the other core while this one lays out the nodes; its agents start once the nodes exist.
      if (o.agentThread && (o.agents ?? true)) cluster.agentThread = cluster.newAgentThread(o.agentThread);
      if (o.installCrd && !server.store.tryGet(CRDS, CRD_NAME)) server.store.create(CRDS, buildCrd());
      await o.beforeNodes?.(server);
      await cluster.addNodes();
      cluster.lifecycle = new NodeLifecycleController({ store: server.store, gracePeriodMs: o.notReadyAfterMs ?? 40_000 });
      if (o.agents ?? true) {
        cluster.agentsUp = cluster.startAgents();
        if (o.waitForAgents ?? true) await cluster.agentsUp;
      }
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    server.setNodeProxy(async (node, path, request) => {
      const kubelet = cluster.kubelets.get(node);
      if (!kubelet) return { status: 404, body: `node ${node} has no kubelet` };
      if (path.startsWith('/sim/')) return simControl(kubelet, path, request?.method, request?.body ?? '');
      if (path.replace(/^\//, '') !== 'configz') return { status: 404, body: '404 page not found\n' };
      const configz = kubelet.configz();
      if (!configz) return { status: 503, body: 'kubelet is not running' };
      return { status: 200, body: JSON.stringify(configz), contentType: 'application/json' };
    });
    return cluster;
  }

  get url(): string {
    return this.server.url;
  }

  nodeNames(): string[] {
    return [...this.kubelets.keys()];
  }

  private async addNodes(): Promise<void> {
    const versions = this.o.versions?.length ? this.o.versions : DEFAULT_VERSIONS;
    const fail = new Set(this.o.failNodes ?? []);
    const store = this.server.store;
    for (let i = 0; i < this.o.nodes; i++) {
      const name = simNodeName(i, this.o.nodes);
      const version = versions[i % versions.length] ?? 'v1.30.0';
      const kubelet = new SimKubelet({
        nodeName: name,
        version,
        root: join(this.baseDir, name),
        restartMs: this.o.restartMs ?? 300,
        rejectAll: fail.has(name),
        onStatus: (s) => this.kubeletStatus(name, s.running && s.ready),
        onConfig: (effective) => this.kubeletTracing?.configure(name, effective),
      });
      this.kubelets.set(name, kubelet);
    }
    // Lay out the nodes' files a batch at a time: all at once would open too many files.
    const all = [...this.kubelets.values()];
    for (let i = 0; i < all.length; i += 200) await Promise.all(all.slice(i, i + 200).map((k) => k.init()));
    let i = 0;
    for (const [name, kubelet] of this.kubelets) {
      // The kubelet registers its Node with its first status, then keeps its Lease.
      if (!store.tryGet(NODES, name)) store.createEntry(NODES, simNodeObject(name, i, kubelet.version), { lazyText: true });
      this.heartbeats.add(name, () => this.healthy.has(name));
      i++;
    }
  }

  /** Starts every agent: in the agents' thread (made by start()), or in this one. */
  private async startAgents(): Promise<void> {
    let here: AgentsHere | undefined;
    if (!this.agentThread) {
      const [{ PooledKubeConfig }, { runAgent }] = await Promise.all([import('../kube/pool.js'), import('../agent/agent.js')]);
      if (this.stopping) return;
      // Every agent of this thread over one pool of keep-alive connections (see PooledKubeConfig).
      const pooled = new PooledKubeConfig();
      pooled.loadFromString(this.server.kubeconfigYaml());
      this.agentKubeConfig = pooled;
      here = { runAgent, kubeConfig: pooled };
    }
    const watching = (): number => this.server.store.hub.count(resKey(NODES));
    const base = watching();
    let started = 0;
    let wave: AgentSpec[] = [];
    const launch = (): void => {
      if (wave.length > 0) this.agentThread?.start(wave);
      wave = [];
    };
    for (const [nodeName, kubelet] of this.kubelets) {
      // A wave at a time, as a DaemonSet rolls out: thousands of agents listing at once hold
      // thousands of responses in flight, and the heap grows to hold them (and keeps the pages).
      if (started - (watching() - base) >= AGENT_WAVE) launch();
      while (started - (watching() - base) >= AGENT_WAVE && !this.stopping) {
        const failure = this.agentThread?.failure;
        if (failure) throw new Error(`the node agents' thread failed: ${failure.message}`);
        await new Promise((r) => setTimeout(r, 2));
      }
      if (this.stopping) return;
      started++;
      const spec: AgentSpec = {
        nodeName,
        hostRoot: kubelet.root,
        procRoot: join(kubelet.root, 'proc'),
        kubeletVersion: kubelet.version,
        timeoutMs: this.o.agentTimeoutMs ?? Math.max(5_000, (this.o.restartMs ?? 300) * 10),
        // Spread as client-go spreads its reflectors' watches (5 to 10 min), so thousands of
        // agents started together do not all relist at the same moment.
        watchTimeoutSeconds: 300 + Math.floor(Math.random() * 300),
      };
      if (here) this.runAgentHere(here, spec, kubelet);
      else wave.push(spec);
    }
    launch();
    const deadline = Date.now() + 30_000;
    while (watching() - base < started && Date.now() < deadline && !this.stopping) {
      const failure = this.agentThread?.failure;
      if (failure) throw new Error(`the node agents' thread failed: ${failure.message}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private newAgentThread(t: { logLevel?: LogLevel }): AgentThread {
    const drift = this.o.agentDrift;
    return new AgentThread(
      { kubeconfig: this.server.kubeconfigYaml(), syncFs: this.onTmpfs, ...(t.logLevel ? { logLevel: t.logLevel } : {}), ...(drift !== undefined ? { drift } : {}) },
      this.kubelets,
    );
  }

  private runAgentHere(here: AgentsHere, spec: AgentSpec, kubelet: SimKubelet): void {
    // One stop signal per agent: thousands of listeners on one shared signal make every add and
    // remove walk them all.
    const abort = new AbortController();
    this.agentAborts.push(abort);
    this.agentRuns.push(
      here.runAgent({
        kubeConfig: this.o.agentKubeConfig?.(spec.nodeName, this.server) ?? here.kubeConfig,
        ...simAgentOptions(spec, kubelet, { signal: abort.signal, syncFs: this.onTmpfs, drift: this.o.agentDrift }),
        // Which node's agent said it: the way `kto agent` names its node in every line.
        ...(this.o.agentLog ? { log: withFields(this.o.agentLog, { node: spec.nodeName }) } : {}),
        ...this.o.agentHooks?.(spec.nodeName),
      }).catch(() => undefined),
    );
  }

  /** Resolves once every agent watches its Node (seen from the server), so a policy applied
   *  then is acted on at once; gives up quietly after a while (agents keep retrying). */
  agentsReady(): Promise<void> {
    return this.agentsUp;
  }

  /** A kubelet that is (back) up renews its Lease and posts its status; one that is down goes
   *  quiet, and the node lifecycle controller marks its node NotReady after the grace period. */
  private kubeletStatus(name: string, healthy: boolean): void {
    if (!healthy) {
      this.healthy.delete(name);
      return;
    }
    const was = this.healthy.has(name);
    this.healthy.add(name);
    if (!was) this.heartbeats.started(name);
    const kubelet = this.kubelets.get(name);
    if (kubelet) reportKubeletVersion(this.server.store, name, kubelet.version);
  }

  /** Upgrades a node's kubelet (it restarts as `version`, on the files as they are): see node-control.ts. */
  async upgradeKubelet(node: string, version: string): Promise<void> {
    const kubelet = this.kubelets.get(node);
    if (!kubelet) throw new Error(`no node ${node}`);
    await kubelet.upgrade(version);
  }

  /** The kernel's id of the agents' worker thread (Linux), when they run in one and it has said
   *  so: a bench reads that thread's CPU time apart from this one's. */
  get agentThreadId(): number | undefined {
    return this.agentThread?.tid;
  }

  /** Every kubelet restart so far, with its node (the first record of each log is its boot). */
  restarts(): NodeRestart[] {
    return [...this.kubelets].flatMap(([node, k]) => k.restartLog.slice(1).map((r) => ({ node, ...r })));
  }

  /** Most kubelets down (restarting, not yet healthy) at the same moment, from their own logs. */
  maxConcurrentRestarts(): number {
    const edges: Array<[number, number]> = [];
    for (const k of this.kubelets.values()) {
      // A kubelet is down from a restart until some start succeeds (a failed start crash-loops).
      let downSince: number | undefined;
      for (const r of k.restartLog) {
        downSince ??= r.startedAt;
        if (r.readyAt !== undefined) {
          edges.push([downSince, 1], [r.readyAt, -1]);
          downSince = undefined;
        }
      }
      if (downSince !== undefined) edges.push([downSince, 1]);
    }
    edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let cur = 0;
    let peak = 0;
    for (const [, d] of edges) {
      cur += d;
      peak = Math.max(peak, cur);
    }
    return peak;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    // A failed start was reported to whoever started the agents.
    await this.agentsUp.catch(() => undefined);
    for (const a of this.agentAborts) a.abort();
    // An agent in the middle of an apply finishes it first; one waiting for its kubelet to come
    // back is let go when the kubelets stop.
    const agentsDone = Promise.all([...this.agentRuns, this.agentThread?.stop()]);
    let late: NodeJS.Timeout | undefined;
    await Promise.race([agentsDone, new Promise((r) => (late = setTimeout(r, 2_000)))]);
    clearTimeout(late);
    this.heartbeats.stop();
    this.lifecycle?.stop();
    for (const k of this.kubelets.values()) k.stop();
    await this.kubeletTracing?.stop();
    await this.server.stop();
    await agentsDone;
    this.agentKubeConfig?.closePools();
    if (!this.o.keep) await rm(this.baseDir, { recursive: true, force: true });
  }
}
