// The controller process: informers (policies, trimmed nodes) -> keyed queue -> Reconciler,
// acting only while it holds the Lease. Standbys keep warm caches and take over at once.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type NodeTracingPolicy } from '../api/types.js';
import { selectorMatches } from '../api/selector.js';
import { startInformer, type Informer } from '../kube/informer.js';
import { LeaderElector } from '../kube/leader.js';
import { ApiWriter, NotLeaderError, type WriteObserver } from '../kube/writer.js';
import { ownerOf, trimNode, type CachedNode } from './nodes.js';
import type { Plan } from './planner.js';
import { WorkQueue, type WorkerResult } from './queue.js';
import { Reconciler } from './reconcile.js';
import type { RolloutSummary } from './status.js';
import { ConfigzVerifier } from './verify.js';

export type Log = (msg: string, fields?: Record<string, unknown>) => void;

export interface ControllerOptions {
  kubeConfig: k8s.KubeConfig;
  identity?: string;
  leaseNamespace?: string;
  leaseName?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Skip leader election (a single replica, e.g. the demo). */
  noLeaderElection?: boolean;
  concurrency?: number;
  now?: () => number;
  log?: Log;
  onPlan?: (policy: string, plan: Plan, summary: RolloutSummary) => void;
  onWrite?: WriteObserver;
  traceparent?: (policy: NodeTracingPolicy, hash: string) => string | undefined;
  /** Wraps each reconcile run (telemetry: span, metrics). Must call fn and return its result. */
  wrapReconcile?: (info: { policy: string; generation?: number }, fn: () => Promise<WorkerResult>) => Promise<WorkerResult>;
  /** Wraps the planner call of each reconcile (telemetry: the `plan` span). */
  planned?: (fn: () => Plan) => Plan;
  /** Told about every Node event as the cache takes it in (the bench times slot hand-overs). */
  onNodeEvent?: (n: CachedNode, old: CachedNode | undefined) => void;
}

export class Controller {
  readonly identity: string;
  private readonly log: Log;
  private policies!: Informer<NodeTracingPolicy>;
  private nodes!: Informer<CachedNode>;
  private queue!: WorkQueue;
  private elector: LeaderElector | undefined;
  private leading = false;
  private synced = false;
  private holder: string | undefined;
  private readonly abort = new AbortController();
  readonly writer: ApiWriter;
  private electionDone: Promise<void> = Promise.resolve();

  constructor(private readonly o: ControllerOptions) {
    this.identity = o.identity ?? `${hostname()}-${randomUUID().slice(0, 8)}`;
    this.log = o.log ?? (() => undefined);
    this.writer = new ApiWriter(o.kubeConfig, {
      canWrite: () => this.leading && !this.abort.signal.aborted,
      component: 'kubelet-tracing-controller',
      observe: o.onWrite,
    });
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** For readiness: caches synced, acting, and the Lease holder last seen (if any). */
  leadership(): { synced: boolean; leader: boolean; holder: string | undefined } {
    return { synced: this.synced, leader: this.leading, holder: this.holder };
  }

  /** Resolves when the caches are synced (leadership may come later). */
  async start(): Promise<void> {
    const kc = this.o.kubeConfig;
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const reconciler = new Reconciler({
      policies: () => this.policies.list(),
      policy: (name) => this.policies.get(name),
      nodes: () => this.nodes.list(),
      writer: this.writer,
      now: this.o.now ?? Date.now,
      verifier: new ConfigzVerifier(kc, this.log),
      traceparent: this.o.traceparent,
      log: this.log,
      onPlan: this.o.onPlan,
      planned: this.o.planned,
    });
    this.queue = new WorkQueue({
      concurrency: this.o.concurrency ?? 4,
      worker: async (key) => {
        if (!this.leading) return; // a standby drops work; the new leader resyncs everything
        const run = () => reconciler.reconcile(key);
        return this.o.wrapReconcile ? this.o.wrapReconcile({ policy: key, generation: this.policies.get(key)?.metadata.generation }, run) : run();
      },
      onError: (key, err, retryInMs) => {
        if (err instanceof NotLeaderError) return;
        this.log('reconcile failed', { policy: key, error: err instanceof Error ? err.message : String(err), retryInMs });
      },
    });

    this.policies = startInformer<NodeTracingPolicy, NodeTracingPolicy>({
      kubeConfig: kc,
      path: `/apis/${GROUP}/${VERSION}/${PLURAL}`,
      listFn: async () => (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as { items: NodeTracingPolicy[] },
      transform: (p) => JSON.parse(JSON.stringify(p)) as NodeTracingPolicy,
      onAdd: (p) => this.enqueue(p.metadata.name),
      onUpdate: (p) => this.enqueue(p.metadata.name),
      onDelete: (p) => this.enqueue(p.metadata.name),
      log: this.log,
    });
    this.nodes = startInformer<k8s.V1Node, CachedNode>({
      kubeConfig: kc,
      path: '/api/v1/nodes',
      listFn: () => core.listNode(),
      transform: trimNode,
      onAdd: (n) => this.nodeChanged(n),
      onUpdate: (n, old) => this.nodeChanged(n, old),
      onDelete: (n) => this.nodeChanged(n),
      log: this.log,
    });
    await Promise.all([this.policies.synced, this.nodes.synced]);
    this.synced = true;

    if (this.o.noLeaderElection) {
      this.becomeLeader();
    } else {
      this.elector = new LeaderElector({
        kubeConfig: kc,
        namespace: this.o.leaseNamespace ?? 'kube-system',
        name: this.o.leaseName ?? 'kubelet-tracing-operator',
        identity: this.identity,
        leaseDurationMs: this.o.leaseDurationMs ?? 15_000,
        renewDeadlineMs: this.o.renewDeadlineMs ?? 10_000,
        retryPeriodMs: this.o.retryPeriodMs ?? 2_000,
        onStartedLeading: () => this.becomeLeader(),
        onNewLeader: (holder) => (this.holder = holder),
        onStoppedLeading: () => {
          this.leading = false;
          this.log('lost leadership: stopped acting', { identity: this.identity });
        },
        log: this.log,
      });
      const elector = this.elector;
      this.electionDone = (async () => {
        while (!this.abort.signal.aborted) {
          await elector.run(this.abort.signal).catch((err: unknown) => this.log('leader election error', { error: String(err) }));
        }
      })();
    }
  }

  private becomeLeader(): void {
    this.leading = true;
    this.log('leading', { identity: this.identity });
    for (const p of this.policies.list()) this.enqueue(p.metadata.name);
    // Orphans: nodes carrying a policy that no longer exists.
    for (const n of this.nodes.list()) {
      const owner = ownerOf(n);
      if (owner && !this.policies.get(owner)) this.enqueue(owner);
    }
  }

  private enqueue(name: string | undefined): void {
    if (name && this.leading) this.queue.add(name);
  }

  /** A Node event maps to the policies that select it (or did), and the one it carries. */
  private nodeChanged(n: CachedNode, old?: CachedNode): void {
    this.o.onNodeEvent?.(n, old);
    if (!this.leading) return;
    for (const p of this.policies.list()) {
      if (selectorMatches(p.spec.nodeSelector, n.labels) || (old && selectorMatches(p.spec.nodeSelector, old.labels))) {
        this.enqueue(p.metadata.name);
      }
    }
    this.enqueue(ownerOf(n));
    if (old) this.enqueue(ownerOf(old));
  }

  /** Depth of the work queue (metrics). */
  queueDepth(): number {
    return this.queue?.len() ?? 0;
  }

  nodeCache(): CachedNode[] {
    return this.nodes?.list() ?? [];
  }

  /** Stops acting and watching. `crash: true` keeps the Lease held, as a killed process would. */
  async stop(opts: { crash?: boolean } = {}): Promise<void> {
    const wasLeading = this.leading && !opts.crash;
    this.leading = false;
    this.abort.abort();
    this.policies?.stop();
    this.nodes?.stop();
    await this.queue?.shutdown();
    this.writer.close();
    if (wasLeading && this.elector) await this.elector.release().catch(() => undefined);
    await this.electionDone;
  }
}
