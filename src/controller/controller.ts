// The controller process: informers (policies, trimmed nodes) -> keyed queue -> Reconciler,
// acting only while it holds the Lease. Standbys keep warm caches and take over at once.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type NodeTracingPolicy } from '../api/types.js';
import { selectorMatches } from '../api/selector.js';
import { startInformer, type Informer } from '../kube/informer.js';
import { LeaderElector } from '../kube/leader.js';
import { ApiWriter, NotLeaderError } from '../kube/writer.js';
import { type Logger, silentLogger } from '../log.js';
import { ownerOf, trimNode, type CachedNode } from './nodes.js';
import type { ControllerHooks } from './hooks.js';
import { assignOwners, eligible, ownershipChanges, type Ownership } from './ownership.js';
import { type QueueStats, WorkQueue } from './queue.js';
import { TerminalError } from './result.js';
import { Reconciler, UNOWNED_KEY } from './reconcile.js';
import { hasOurConfig } from './collect.js';
import { ConfigzVerifier } from './verify.js';

/** The settings, and the hooks (one object: the Reconciler is handed it as its hooks). */
export interface ControllerOptions extends ControllerHooks {
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
  /** Node events of one policy within this long go to one reconcile (default NODE_BATCH_MS). */
  nodeBatchMs?: number;
  now?: () => number;
  log?: Logger;
  /** verify: Configz re-reads an agreeing /configz this often, to find drift. Default 5 min. */
  configzRecheckMs?: number;
  /** A write unanswered this long fails (and is retried as a refused one): REQUEST_DEADLINE_MS. */
  writeDeadlineMs?: number;
}

/** How long a Node event waits for others before its policy is reconciled, as the Job
 *  controller batches its Pods' updates (syncJobBatchPeriod) and the EndpointSlice controller its
 *  endpoints' (endpointUpdatesBatchPeriod): during a rollout of thousands of nodes their events
 *  come hundreds a second, and each reconcile also re-reads the policy and writes its status.
 *  Short beside the kubelet restart a slot waits for, and the main part of a slot's hand-over
 *  (the reconcile itself costs what changed: plan-state.ts). */
export const NODE_BATCH_MS = 5;

export class Controller {
  readonly identity: string;
  private readonly log: Logger;
  // Made by start(): undefined before it (the health and metrics readers may ask earlier).
  private policies: Informer<NodeTracingPolicy> | undefined;
  private nodes: Informer<CachedNode> | undefined;
  private queue: WorkQueue | undefined;
  private elector: LeaderElector | undefined;
  private leading = false;
  private synced = false;
  private holder: string | undefined;
  private resets = 0;
  /** Policy -> generation whose terminal error (an invalid spec) was logged. */
  private readonly reported = new Map<string, number | undefined>();
  private reconciler: Reconciler | undefined;
  /** Who owns which node, kept between reconciles: dropped on any policy event, a node added or
   *  deleted, or a node's labels changed (a rollout changes only annotations). */
  private owned: Ownership | undefined;
  private readonly abort = new AbortController();
  readonly writer: ApiWriter;
  private electionDone: Promise<void> = Promise.resolve();

  constructor(private readonly o: ControllerOptions) {
    this.identity = o.identity ?? `${hostname()}-${randomUUID().slice(0, 8)}`;
    this.log = o.log ?? silentLogger;
    this.writer = new ApiWriter(o.kubeConfig, {
      canWrite: () => this.leading && !this.abort.signal.aborted,
      component: 'kubelet-tracing-controller',
      observe: o.onWrite,
      ...(o.writeDeadlineMs !== undefined ? { deadlineMs: o.writeDeadlineMs } : {}),
    });
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** For readiness: caches synced, acting, the Lease holder last seen (if any), and why a cache
   *  cannot be listed or watched, if one cannot. */
  leadership(): { synced: boolean; leader: boolean; holder: string | undefined; identity: string; problem?: string } {
    const problems = [
      ['NodeTracingPolicy', withHint(this.policies?.health().error)],
      ['Node', this.nodes?.health().error],
    ].filter((p): p is [string, string] => p[1] !== undefined).map(([what, err]) => `${what} cache: ${err}`);
    return { synced: this.synced, leader: this.leading, holder: this.holder, identity: this.identity, ...(problems.length ? { problem: problems.join('; ') } : {}) };
  }

  /** Resolves when the caches are synced (leadership may come later). */
  async start(): Promise<void> {
    this.reconciler = this.newReconciler();
    this.queue = this.newQueue(this.reconciler);
    this.startInformers();
    await Promise.all([this.started().policies.synced, this.started().nodes.synced]);
    this.synced = true;
    if (this.o.noLeaderElection) this.becomeLeader();
    else this.campaign();
  }

  private newReconciler(): Reconciler {
    const verifier = new ConfigzVerifier(this.o.kubeConfig, this.log, { ...(this.o.configzRecheckMs !== undefined ? { recheckMs: this.o.configzRecheckMs } : {}) });
    return new Reconciler({
      caches: () => this.cacheState(),
      policies: () => this.started().policies.list(),
      policy: (name) => this.started().policies.get(name),
      nodes: () => this.started().nodes.list(),
      nodeFeed: () => this.started().nodes,
      ownership: () => (this.owned ??= assignOwners(this.started().policies.list(), this.started().nodes.list())),
      writer: this.writer,
      now: this.o.now ?? Date.now,
      verifier,
      log: this.log,
      // The options are the hooks object (ControllerOptions extends ControllerHooks): passed on as is.
      hooks: this.o,
    });
  }

  private newQueue(reconciler: Reconciler): WorkQueue {
    return new WorkQueue({
      concurrency: this.o.concurrency ?? 4,
      observer: this.o.queueObserver,
      worker: async (key) => {
        if (!this.leading) return; // a standby drops work; the new leader resyncs everything
        const run = () => reconciler.reconcile(key);
        return this.o.wrapReconcile ? this.o.wrapReconcile({ policy: key, generation: this.started().policies.get(key)?.metadata.generation }, run) : run();
      },
      onError: (key, err, retryInMs) => this.reconcileFailed(key, err, retryInMs),
    });
  }

  private reconcileFailed(key: string, err: unknown, retryInMs: number | undefined): void {
    if (err instanceof NotLeaderError) return;
    if (err instanceof TerminalError) {
      // An invalid spec stays invalid until its next generation: say it once, not on every event.
      const generation = this.started().policies.get(key)?.metadata.generation;
      if (this.reported.get(key) === generation) return;
      this.reported.set(key, generation);
      // The user's to fix (its Stalled condition says how): no stack.
      this.log.warn({ policy: key, reason: err.message }, 'reconcile failed: not retried until the policy changes');
      return;
    }
    this.log.error({ policy: key, err, retryInMs }, 'reconcile failed');
  }

  private startInformers(): void {
    const kc = this.o.kubeConfig;
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    this.policies = startInformer<NodeTracingPolicy, NodeTracingPolicy>({
      kubeConfig: kc,
      path: `/apis/${GROUP}/${VERSION}/${PLURAL}`,
      listFn: async (req) => (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, ...req })) as { items: NodeTracingPolicy[] },
      transform: (p) => JSON.parse(JSON.stringify(p)) as NodeTracingPolicy,
      onAdd: (p) => this.policyChanged(p),
      onUpdate: (p, old) => this.policyChanged(p, old),
      onDelete: (p) => this.policyChanged(p, p, true),
      onReset: () => this.historyReset(),
      onRelist: (reason) => this.o.onRelist?.('nodetracingpolicies', reason),
      log: this.log,
    });
    this.nodes = startInformer<k8s.V1Node, CachedNode>({
      kubeConfig: kc,
      path: '/api/v1/nodes',
      listFn: (req) => core.listNode(req),
      transform: trimNode,
      changeLog: true,
      onAdd: (n) => this.nodeChanged(n),
      onUpdate: (n, old) => this.nodeChanged(n, old),
      onDelete: (n) => {
        this.reconciler?.nodeDeleted(n.name);
        this.nodeChanged(n);
      },
      onReset: () => this.historyReset(),
      onRelist: (reason) => this.o.onRelist?.('nodes', reason),
      log: this.log,
    });
  }

  /** Campaigns for the Lease until stopped. A lost lease ends the term (the writer refuses every
   *  write from then on) and this replica campaigns again, its caches still warm; the next term
   *  starts from what they say (becomeLeader). controller-runtime exits instead and lets the
   *  Deployment restart it; see leader.ts for why this one does not. */
  private campaign(): void {
    const elector = new LeaderElector({
      kubeConfig: this.o.kubeConfig,
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
        if (!this.abort.signal.aborted) this.log.warn({ identity: this.identity }, 'lost leadership: stopped acting');
      },
      log: this.log,
    });
    this.elector = elector;
    this.electionDone = (async () => {
      while (!this.abort.signal.aborted) {
        await elector.run(this.abort.signal).catch((err: unknown) => this.log.error({ err }, 'leader election failed'));
      }
    })();
  }

  /** A term starts from the caches alone: what the reconciler remembers of an earlier term
   *  (releases it expected, failures announced, configz verdicts) may be stale, since another
   *  replica acted in between. The first term has nothing to forget. */
  private becomeLeader(): void {
    this.reconciler?.forget();
    this.leading = true;
    this.log.info({ identity: this.identity }, 'leading: acting on every policy');
    this.resyncAll();
  }

  /** Both caches fresh, and how many times either found the server's history not its own. */
  private cacheState(): { fresh: boolean; epoch: number } {
    return { fresh: Boolean(this.policies?.health().fresh && this.nodes?.health().fresh), epoch: this.resets };
  }

  /** An informer rebuilt its cache from a server whose history is not the one it had (a
   *  restore, a new server): what the reconciler remembers of the old one (releases it expects
   *  to see, failures announced, configz verdicts) is void, and every policy is looked at again. */
  private historyReset(): void {
    this.resets++;
    this.owned = undefined;
    this.reconciler?.forget();
    if (this.leading) this.resyncAll();
  }

  private resyncAll(): void {
    for (const p of this.started().policies.list()) this.enqueue(p.metadata.name);
    // Orphans: nodes carrying a policy that no longer exists, or a hand-off naming none.
    for (const n of this.started().nodes.list()) {
      const owner = ownerOf(n);
      if (owner && !this.started().policies.get(owner)) this.enqueue(owner);
      if (owner === undefined && hasOurConfig(n)) this.enqueue(UNOWNED_KEY);
    }
    // Policies deleted while this replica was not acting on them: their keys clean up what is left and forget them.
    for (const name of this.reconciler?.remembered() ?? []) if (!this.started().policies.get(name)) this.enqueue(name);
  }

  private enqueue(name: string | undefined): void {
    if (name && this.leading) this.started().queue.add(name);
  }

  /** A node event's policy: reconciled once the events that come with it are in. */
  private enqueueBatched(name: string | undefined): void {
    if (name && this.leading) this.started().queue.addAfter(name, this.o.nodeBatchMs ?? NODE_BATCH_MS);
  }

  /** A policy event: that policy, and every policy whose nodes it changes hands of (a delete, a
   *  priority or selector change, the spec turning valid or invalid), gaining or losing them. */
  private policyChanged(p: NodeTracingPolicy, old?: NodeTracingPolicy, deleted = false): void {
    if (deleted) this.reported.delete(p.metadata.name ?? '');
    const same = old !== undefined && !deleted && old.metadata.generation === p.metadata.generation &&
      Boolean(old.metadata.deletionTimestamp) === Boolean(p.metadata.deletionTimestamp);
    // Who owns what follows the specs and deletions only: a status write (one a second in a
    // rollout) keeps it, and with it every policy's kept plan.
    if (!same) this.owned = undefined;
    if (!this.leading) return;
    this.enqueue(p.metadata.name);
    if (same) return; // a status or metadata write: nobody's nodes change
    const name = p.metadata.name;
    const now = this.started().policies.list();
    const others = now.filter((x) => x.metadata.name !== name);
    const before = old === undefined ? others : [...others, old];
    const after = deleted ? others : [...others, p];
    const nodes = this.started().nodes.list();
    for (const changed of ownershipChanges(assignOwners(before, nodes), assignOwners(after, nodes))) this.enqueue(changed);
  }

  /** A Node event maps to the policies that select it (or did), and the one it carries. An
   *  invalid policy owns no node: only its own (carried) nodes concern it. */
  private nodeChanged(n: CachedNode, old?: CachedNode): void {
    this.o.onNodeEvent?.(n, old);
    if (!old || !sameRecord(n.labels, old.labels)) this.owned = undefined;
    // Nothing a reconcile reads changed (a heartbeat's status write): nothing to look at again.
    if (old && sameNode(n, old)) return;
    if (!this.leading) return;
    for (const p of this.started().policies.list()) {
      if (!eligible(p)) continue;
      if (selectorMatches(p.spec.nodeSelector, n.labels) || (old && selectorMatches(p.spec.nodeSelector, old.labels))) {
        this.enqueueBatched(p.metadata.name);
      }
    }
    this.enqueueBatched(ownerOf(n));
    if (old) this.enqueueBatched(ownerOf(old));
    // A hand-off naming no policy: a drop-in back after its removal, reported by the agent.
    if (ownerOf(n) === undefined && (hasOurConfig(n) || (old !== undefined && hasOurConfig(old)))) this.enqueueBatched(UNOWNED_KEY);
  }

  /** The caches and the queue, which exist once start() made them. */
  private started(): { policies: Informer<NodeTracingPolicy>; nodes: Informer<CachedNode>; queue: WorkQueue } {
    const { policies, nodes, queue } = this;
    if (!policies || !nodes || !queue) throw new Error('the controller has not been started');
    return { policies, nodes, queue };
  }

  /** The work queue now (metrics). */
  queueStats(): QueueStats {
    return this.queue?.stats() ?? { depth: 0, unfinishedSeconds: 0, longestRunningSeconds: 0 };
  }

  policyCache(): NodeTracingPolicy[] {
    return this.policies?.list() ?? [];
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

function sameRecord(a: Record<string, string>, b: Record<string, string>): boolean {
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  for (const _ in b) n--;
  return n === 0;
}

/** The same in every field the controller reads. */
function sameNode(a: CachedNode, b: CachedNode): boolean {
  return a.name === b.name && a.uid === b.uid && a.ready === b.ready && a.kubeletVersion === b.kubeletVersion &&
    sameRecord(a.labels, b.labels) && sameRecord(a.ours, b.ours);
}

/** A 404 listing policies almost always means the CRD is not installed (or was deleted). */
function withHint(err: string | undefined): string | undefined {
  return err !== undefined && /HTTP 404/.test(err) ? `${err} (is the NodeTracingPolicy CRD installed?)` : err;
}
