// The embedded cluster: the API server, one simulated node per host directory, and (by default)
// the real node agent on every node — what `kto sim`, `kto demo` and the integration tests run.
// There is one copy of this wiring; the demo is this plus the controller.
import { setMaxListeners } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { runAgent, type RunAgentOptions } from '../agent/agent.js';
import type { Logger } from '../log.js';
import { ApiServer } from './apiserver/index.js';
import { CRDS, NODES } from './apiserver/types.js';
import { buildCrd, CRD_NAME } from '../api/crd.js';
import { SimKubelet, type RestartRecord } from './kubelet/index.js';
import { KubeletTracing, type KubeletTracingOptions } from './kubelet/tracing.js';
import { simNodeName, simNodeObject } from './nodes.js';

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
  /** How long a kubelet may be down before its node turns NotReady (node-monitor-grace-period). */
  notReadyAfterMs?: number;
  /** Keep host directories on stop. */
  keep?: boolean;
  /** Agent health timeout after a restart. */
  agentTimeoutMs?: number;
  agentLog?: Logger;
  /** Per-node agent hooks (telemetry: the apply and phase spans, agent metrics). */
  agentHooks?: (node: string) => Pick<RunAgentOptions, 'wrapApply' | 'onPhase'>;
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
}

export interface NodeRestart extends RestartRecord {
  node: string;
}

export class SimCluster {
  readonly kubelets = new Map<string, SimKubelet>();
  /** The kubelets' span export, when kubeletSpans is set. */
  readonly kubeletTracing: KubeletTracing | undefined;
  private readonly agentsAbort = new AbortController();
  private readonly agentRuns: Promise<void>[] = [];
  private readonly notReadyTimers = new Map<string, NodeJS.Timeout>();
  private constructor(
    readonly server: ApiServer,
    readonly baseDir: string,
    private readonly o: SimClusterOptions,
  ) {
    this.kubeletTracing = o.kubeletSpans && new KubeletTracing(o.kubeletSpans);
  }

  static async start(o: SimClusterOptions): Promise<SimCluster> {
    const server = new ApiServer({ port: o.port ?? 0, stateDir: o.stateDir, gitVersion: o.gitVersion, adminToken: o.adminToken });
    await server.start();
    const baseDir = await mkdtemp(join(tmpdir(), 'kto-sim-'));
    const cluster = new SimCluster(server, baseDir, o);
    try {
      if (o.installCrd && !server.store.tryGet(CRDS, CRD_NAME)) server.store.create(CRDS, buildCrd());
      await o.beforeNodes?.(server);
      await cluster.addNodes();
      if (o.agents ?? true) cluster.startAgents();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    server.setNodeProxy(async (node, path) => {
      const kubelet = cluster.kubelets.get(node);
      if (!kubelet) return { status: 404, body: `node ${node} has no kubelet` };
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

  kubeConfig(): k8s.KubeConfig {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(this.server.kubeconfigYaml());
    return kc;
  }

  nodeNames(): string[] {
    return [...this.kubelets.keys()];
  }

  private async addNodes(): Promise<void> {
    const versions = this.o.versions?.length ? this.o.versions : DEFAULT_VERSIONS;
    const fail = new Set(this.o.failNodes ?? []);
    for (let i = 0; i < this.o.nodes; i++) {
      const name = simNodeName(i, this.o.nodes);
      const version = versions[i % versions.length] ?? 'v1.30.0';
      const root = join(this.baseDir, name);
      const kubelet = new SimKubelet({
        nodeName: name,
        version,
        root,
        restartMs: this.o.restartMs ?? 300,
        rejectAll: fail.has(name),
        onStatus: (s) => this.kubeletStatus(name, s.running && s.ready, s.error),
        onConfig: (effective) => this.kubeletTracing?.configure(name, effective),
      });
      await kubelet.init();
      this.kubelets.set(name, kubelet);
      if (!this.server.store.tryGet(NODES, name)) this.server.store.create(NODES, simNodeObject(name, i, version));
    }
  }

  private startAgents(): void {
    // Every agent listens on the one shared stop signal: many listeners by design, not a leak.
    setMaxListeners(0, this.agentsAbort.signal);
    const kubeConfig = this.kubeConfig();
    for (const [nodeName, kubelet] of this.kubelets) {
      this.agentRuns.push(
        runAgent({
          kubeConfig: this.o.agentKubeConfig?.(nodeName, this.server) ?? kubeConfig,
          nodeName,
          detect: { hostRoot: kubelet.root, procRoot: join(kubelet.root, 'proc'), kubeletVersion: kubelet.version },
          restarter: kubelet,
          health: kubelet,
          timeoutMs: this.o.agentTimeoutMs ?? Math.max(5_000, (this.o.restartMs ?? 300) * 10),
          // The simulated kubelet answers health from memory: polling often costs nothing.
          pollMs: 10,
          signal: this.agentsAbort.signal,
          log: this.o.agentLog,
          ...this.o.agentHooks?.(nodeName),
        }).catch(() => undefined),
      );
    }
  }

  /** The kubelet's health shows in the Node's Ready condition only after the grace period, as
   *  the node lifecycle controller does; coming back is immediate. */
  private kubeletStatus(name: string, healthy: boolean, error?: string): void {
    const pending = this.notReadyTimers.get(name);
    if (healthy) {
      if (pending) clearTimeout(pending);
      this.notReadyTimers.delete(name);
      this.setReady(name, true, 'KubeletReady', 'kubelet is posting ready status');
      return;
    }
    if (pending) return;
    const t = setTimeout(() => {
      this.notReadyTimers.delete(name);
      this.setReady(name, false, 'NodeStatusUnknown', error ? `Kubelet stopped posting node status: ${error}` : 'Kubelet stopped posting node status.');
    }, this.o.notReadyAfterMs ?? 40_000);
    t.unref();
    this.notReadyTimers.set(name, t);
  }

  private setReady(name: string, ready: boolean, reason: string, message: string): void {
    const node = this.server.store.tryGet<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(NODES, name);
    const current = node?.status?.conditions?.find((c) => c.type === 'Ready')?.status;
    const want = ready ? 'True' : 'Unknown';
    if (!node || current === want) return;
    const now = new Date().toISOString();
    this.server.store.patch(NODES, name, 'strategic', {
      status: { conditions: [{ type: 'Ready', status: want, reason, message, lastHeartbeatTime: now, lastTransitionTime: now }] },
    }, { subresource: 'status' });
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
    this.agentsAbort.abort();
    await Promise.all(this.agentRuns);
    for (const t of this.notReadyTimers.values()) clearTimeout(t);
    for (const k of this.kubelets.values()) k.stop();
    await this.kubeletTracing?.stop();
    await this.server.stop();
    if (!this.o.keep) await rm(this.baseDir, { recursive: true, force: true });
  }
}
