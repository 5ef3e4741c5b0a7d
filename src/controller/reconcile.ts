// Reconcile one policy, level-based: re-read the caches, decide, write the few changes, report.
// watch -> decide (ownership, plan) -> render -> validate -> roll out (annotations) -> verify -> report
import {
  A_DESIRED_CONFIG, A_DESIRED_HASH, A_DESIRED_TIME, A_POLICY, A_TRACEPARENT, ANNOTATION_PREFIX, REMOVED_HASH,
} from '../api/annotations.js';
import { FINALIZER, ROLLOUT_DEFAULTS, type NodeTracingPolicy, type ResolvedRollout } from '../api/types.js';
import type { KubeletTracingDropin } from '../render/render.js';
import { formatFieldError } from '../validate/errors.js';
import type { ApiWriter } from '../kube/writer.js';
import { collect, hasOurConfig, invalidSummary, rolloutFor, summarize, type Collected, type Target } from './collect.js';
import { ownerOf, toPlanNode, type CachedNode } from './nodes.js';
import { assignOwners, type Ownership } from './ownership.js';
import { inFlight, planRollout, type Plan, type PlanNode } from './planner.js';
import { buildStatus, describeFailure, sameStatus, transitions, type RolloutSummary } from './status.js';
import { TerminalError } from './queue.js';
import { checkPolicy } from './validity.js';
import type { Logger } from '../log.js';
import type { ConfigzVerifier } from './verify.js';

export type { Target };

export interface ReconcileDeps {
  /** The caches' state: fresh (listed and watching), and a counter of history resets. */
  caches?: () => { fresh: boolean; epoch: number };
  policies: () => NodeTracingPolicy[];
  policy: (name: string) => NodeTracingPolicy | undefined;
  nodes: () => CachedNode[];
  /** Who owns which node, when the caller keeps it between reconciles (it changes only with the
   *  policies and the nodes' labels); computed from policies() and nodes() otherwise. */
  ownership?: () => Ownership;
  writer: ApiWriter;
  now: () => number;
  verifier?: ConfigzVerifier;
  /** W3C traceparent to hand the agents for this rollout (telemetry), if tracing is on. */
  traceparent?: (policy: NodeTracingPolicy, hash: string) => string | undefined;
  log?: Logger;
  /** Told about each reconcile's outcome (metrics, demo progress). */
  onPlan?: (policy: string, plan: Plan, summary: RolloutSummary) => void;
  /** Told when a policy is gone and nothing of it is left on any node (metrics). */
  onGone?: (policy: string) => void;
  /** Wraps the planner call (telemetry: the `plan` span). Must call fn and return its result. */
  planned?: (fn: () => Plan) => Plan;
}

/** Least time between two status writes that change only counts. */
export const STATUS_INTERVAL_MS = 1000;

/** How soon a reconcile that found the caches not fresh runs again. */
export const STALE_CACHE_RETRY_MS = 500;

/** Thrown (and turned into a requeue) when the caches were rebuilt from another history while a
 *  reconcile was running: what it decided describes a server that is gone. */
class StaleCache extends Error {}

type Result = { requeueAfterMs?: number } | void;

/** Releases written but not yet seen in the cache: without them a fast second reconcile would
 *  see the node as Pending again and could exceed maxUnavailable. */
class Expectations {
  private readonly pending = new Map<string, { hash: string; timeMs: number }>();
  clear(): void {
    this.pending.clear();
  }
  expect(node: string, hash: string, timeMs: number): void {
    this.pending.set(node, { hash, timeMs });
  }
  overlay(n: PlanNode): PlanNode {
    if (this.pending.size === 0) return n;
    const e = this.pending.get(n.name);
    if (!e) return n;
    if (n.desiredHash === e.hash) {
      this.pending.delete(n.name);
      return n;
    }
    return { ...n, desiredHash: e.hash, desiredTimeMs: e.timeMs, state: undefined, stateHash: undefined };
  }
}

export class Reconciler {
  private readonly expectations = new Expectations();
  /** Failed nodes already announced, per policy and hash: one Warning event per failure. */
  private readonly announced = new Map<string, Set<string>>();
  private readonly lastStatusWrite = new Map<string, number>();
  /** Each policy's last valid rollout settings: the removal of a policy that became invalid, or
   *  was force-deleted, keeps them. */
  private readonly lastRollout = new Map<string, ResolvedRollout>();

  constructor(private readonly d: ReconcileDeps) {}

  /** The server's history changed under the caches: forget what was learnt from the old one. */
  forget(): void {
    this.expectations.clear();
    this.announced.clear();
    this.d.verifier?.forget();
  }

  private owners(): Ownership {
    return this.d.ownership ? this.d.ownership() : assignOwners(this.d.policies(), this.d.nodes());
  }

  /** Never decide, write status or release nodes from caches that may miss what the server
   *  has: wait for them to be listed again. */
  async reconcile(name: string): Promise<Result> {
    const caches = this.d.caches?.();
    if (caches && !caches.fresh) return { requeueAfterMs: STALE_CACHE_RETRY_MS };
    const stillFresh = (): void => {
      const now = this.d.caches?.();
      if (caches && now && (!now.fresh || now.epoch !== caches.epoch)) throw new StaleCache();
    };
    try {
      const policy = this.d.policy(name);
      return await (policy ? this.reconcilePolicy(policy, stillFresh) : this.cleanupOrphans(name, stillFresh));
    } catch (err) {
      if (err instanceof StaleCache) return { requeueAfterMs: STALE_CACHE_RETRY_MS };
      throw err;
    }
  }

  private async reconcilePolicy(policy: NodeTracingPolicy, stillFresh: () => void): Promise<Result> {
    const name = policy.metadata.name ?? '';
    const checked = checkPolicy(policy);
    const deleting = Boolean(policy.metadata.deletionTimestamp);
    // An invalid spec cannot say what to render, but its removal needs no spec: a delete goes on.
    if (!checked.ok && !deleting) {
      const message = checked.errors.map(formatFieldError).join('; ');
      await this.writeStatus(policy, invalidSummary(policy, message));
      throw new TerminalError(`policy ${name} is invalid: ${message}`);
    }
    const finalizers = policy.metadata.finalizers ?? [];
    if (!deleting && !finalizers.includes(FINALIZER)) {
      await this.d.writer.setPolicyFinalizers(name, [...finalizers, FINALIZER], policy.metadata.resourceVersion);
      return; // the update event brings us back with the finalizer in the cache
    }
    const rollout = rolloutFor(policy, checked, this.lastRollout.get(name));
    if (checked.ok) this.lastRollout.set(name, rollout);

    const now = this.d.now();
    const c = collect(policy, this.d.nodes(), this.owners(), deleting, rollout, now);
    const planNodes: PlanNode[] = [];
    for (const t of c.targets) planNodes.push(this.expectations.overlay(toPlanNode(t.node, t.hash)));
    for (const n of c.removals) planNodes.push(this.expectations.overlay(toPlanNode(n, REMOVED_HASH)));
    const verified = this.d.verifier ? await this.d.verifier.check(policy, planNodes, c.targets) : planNodes;
    const decide = () => planRollout({ nodes: verified, rollout, now, borrowed: c.borrowed });
    const plan = this.d.planned ? this.d.planned(decide) : decide();

    stillFresh();
    await this.act(policy, plan, c, now);
    await this.announceFailures(policy, plan, verified, rollout);
    const summary = summarize(policy, plan, verified, c, rollout);
    this.d.onPlan?.(name, plan, summary);

    stillFresh();
    if (deleting && c.removals.length === 0) {
      await this.d.writer.setPolicyFinalizers(name, finalizers.filter((f) => f !== FINALIZER), policy.metadata.resourceVersion);
      return;
    }
    const statusDeferredMs = await this.writeStatus(policy, summary);
    const requeue = [plan.requeueAfterMs, statusDeferredMs].filter((v): v is number => v !== undefined);
    return requeue.length ? { requeueAfterMs: Math.min(...requeue) } : undefined;
  }

  /** Writes the plan: the batch released (the planner already counted every one of them), and
   *  our annotations cleared from nodes whose removal is done. */
  private async act(policy: NodeTracingPolicy, plan: Plan, c: Collected, now: number): Promise<void> {
    // Only the released nodes are looked up (a few, out of thousands of targets).
    const released = new Set(plan.release);
    const byName = new Map(plan.release.length === 0 ? [] : c.targets.filter((t) => released.has(t.node.name)).map((t) => [t.node.name, t]));
    await Promise.all(
      plan.release.map((nodeName) => {
        const t = byName.get(nodeName);
        return this.release(policy, nodeName, t ? t.hash : REMOVED_HASH, t ? t.config : null, now);
      }),
    );
    for (const n of c.removals) {
      if (plan.phases[n.name] === 'Updated') await this.d.writer.patchNodeAnnotations(n.name, clearOurs(n));
    }
  }

  private async release(policy: NodeTracingPolicy, node: string, hash: string, config: KubeletTracingDropin | null, now: number): Promise<void> {
    const name = policy.metadata.name ?? '';
    const traceparent = this.d.traceparent?.(policy, hash);
    await this.d.writer.patchNodeAnnotations(node, {
      [A_POLICY]: name,
      [A_DESIRED_CONFIG]: config ? JSON.stringify(config) : '',
      [A_DESIRED_HASH]: hash,
      [A_DESIRED_TIME]: new Date(now).toISOString(),
      [A_TRACEPARENT]: traceparent ?? null,
    });
    this.expectations.expect(node, hash, now);
    this.d.log?.info({ policy: name, node, hash }, 'released node');
  }

  /** One Warning event per failed node and hash, with why (the kubelet's words, or a timeout). */
  private async announceFailures(policy: NodeTracingPolicy, plan: Plan, nodes: PlanNode[], rollout: ResolvedRollout): Promise<void> {
    if (plan.failed === 0) return;
    const name = policy.metadata.name ?? '';
    const seen = this.announced.get(name) ?? new Set<string>();
    this.announced.set(name, seen);
    for (const n of nodes) {
      if (plan.phases[n.name] !== 'Failed') continue;
      const key = `${n.name}@${n.targetHash}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const timedOut = plan.timedOut.includes(n.name);
      const why = describeFailure(
        { node: n.name, why: timedOut ? 'TimedOut' : n.state === 'RolledBack' ? 'RolledBack' : 'Failed', ...(n.message && !timedOut ? { message: n.message } : {}) },
        rollout.nodeTimeoutSeconds,
      );
      await this.d.writer.event({ kind: 'Node', name: n.name }, 'Warning', 'TracingConfigFailed', `policy ${name}, config ${n.targetHash}: ${why}`);
      await this.d.writer.event({ kind: 'NodeTracingPolicy', name, uid: policy.metadata.uid }, 'Warning', 'NodeFailed', `${why} (config ${n.targetHash})`);
    }
  }

  /** Writes the status when it changed. A change of counts alone is written at most once per
   *  STATUS_INTERVAL_MS (a 5,000-node rollout would otherwise patch its status thousands of
   *  times); condition transitions and new generations go out at once. Returns how long a
   *  deferred write waits, for the requeue. */
  private async writeStatus(policy: NodeTracingPolicy, summary: RolloutSummary): Promise<number | undefined> {
    const name = policy.metadata.name ?? '';
    const now = this.d.now();
    const next = buildStatus(policy.status, summary, new Date(now));
    if (sameStatus(policy.status, next)) return undefined;
    const changed = transitions(policy.status, next);
    const since = now - (this.lastStatusWrite.get(name) ?? Number.NEGATIVE_INFINITY);
    if (changed.length === 0 && policy.status?.observedGeneration === next.observedGeneration && since < STATUS_INTERVAL_MS) {
      return STATUS_INTERVAL_MS - since;
    }
    await this.d.writer.patchPolicyStatus(name, next);
    this.lastStatusWrite.set(name, now);
    for (const c of changed) {
      if (c.status !== 'True') continue;
      const warning = c.type === 'Stalled' || c.type === 'Degraded' || c.type === 'Conflict';
      await this.d.writer.event({ kind: 'NodeTracingPolicy', name, uid: policy.metadata.uid }, warning ? 'Warning' : 'Normal', c.reason, c.message);
    }
    return undefined;
  }

  /** The policy is gone without its finalizer having run (force-deleted): still take our
   *  configuration off the nodes nobody else owns now (another owner's release replaces it in
   *  one restart), with its last known rollout settings or the defaults, never paused. */
  private async cleanupOrphans(name: string, stillFresh: () => void): Promise<Result> {
    const own = this.owners();
    const rollout = { ...(this.lastRollout.get(name) ?? ROLLOUT_DEFAULTS), paused: false };
    const now = this.d.now();
    const carrying = this.d.nodes().filter((n) => ownerOf(n) === name && hasOurConfig(n));
    const orphans = carrying.filter((n) => own.owner.get(n.name) === undefined);
    const borrowed = carrying.filter((n) => own.owner.get(n.name) !== undefined && inFlight(toPlanNode(n, REMOVED_HASH), rollout, now)).length;
    if (orphans.length === 0) {
      if (carrying.length === 0) this.gone(name);
      return borrowed > 0 ? { requeueAfterMs: 1000 } : undefined;
    }
    const plan = planRollout({ nodes: orphans.map((n) => this.expectations.overlay(toPlanNode(n, REMOVED_HASH))), rollout, now, borrowed });
    const orphanPolicy = { metadata: { name } } as NodeTracingPolicy;
    stillFresh();
    for (const node of plan.release) await this.release(orphanPolicy, node, REMOVED_HASH, null, now);
    for (const n of orphans) {
      if (plan.phases[n.name] === 'Updated') await this.d.writer.patchNodeAnnotations(n.name, clearOurs(n));
    }
    // The orphans' own Node events bring this key back (nodeChanged enqueues a node's policy).
    return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : undefined;
  }

  /** Nothing of the policy is left anywhere: forget it. */
  private gone(name: string): void {
    this.lastRollout.delete(name);
    this.announced.delete(name);
    this.lastStatusWrite.delete(name);
    this.d.onGone?.(name);
  }
}

function clearOurs(n: CachedNode): Record<string, null> {
  return Object.fromEntries(Object.keys(n.ours).filter((k) => k.startsWith(ANNOTATION_PREFIX)).map((k) => [k, null]));
}
