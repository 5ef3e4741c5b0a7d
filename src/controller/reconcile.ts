// Reconcile one policy, level-based: re-read the caches, decide, write the few changes, report.
// watch -> decide (ownership, plan) -> render -> validate -> roll out (annotations) -> verify -> report
import {
  A_DESIRED_CONFIG, A_DESIRED_HASH, A_DESIRED_TIME, A_POLICY, A_TRACEPARENT, ANNOTATION_PREFIX, REMOVED_HASH,
} from '../api/annotations.js';
import { FINALIZER, resolveRollout, type NodeTracingPolicy, type ResolvedRollout } from '../api/types.js';
import { intentHash, render, type KubeletTracingDropin } from '../render/render.js';
import { formatFieldError } from '../validate/errors.js';
import { validatePolicy } from '../validate/policy.js';
import type { ApiWriter } from '../kube/writer.js';
import { ownerOf, toPlanNode, type CachedNode } from './nodes.js';
import { assignOwners } from './ownership.js';
import { planRollout, type Plan, type PlanNode } from './planner.js';
import { buildStatus, sameStatus, transitions, type RolloutSummary } from './status.js';
import { TerminalError } from './queue.js';
import type { ConfigzVerifier } from './verify.js';

export interface ReconcileDeps {
  /** The caches' state: fresh (listed and watching), and a counter of history resets. */
  caches?: () => { fresh: boolean; epoch: number };
  policies: () => NodeTracingPolicy[];
  policy: (name: string) => NodeTracingPolicy | undefined;
  nodes: () => CachedNode[];
  writer: ApiWriter;
  now: () => number;
  verifier?: ConfigzVerifier;
  /** W3C traceparent to hand the agents for this rollout (telemetry), if tracing is on. */
  traceparent?: (policy: NodeTracingPolicy, hash: string) => string | undefined;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Told about each reconcile's outcome (metrics, demo progress). */
  onPlan?: (policy: string, plan: Plan, summary: RolloutSummary) => void;
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

export interface Target {
  node: CachedNode;
  hash: string;
  config: KubeletTracingDropin | null;
}

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
  /** Each policy's rollout settings as last seen: a force-deleted policy's cleanup keeps them. */
  private readonly lastRollout = new Map<string, ResolvedRollout>();

  constructor(private readonly d: ReconcileDeps) {}

  /** The server's history changed under the caches: forget what was learnt from the old one. */
  forget(): void {
    this.expectations.clear();
    this.announced.clear();
    this.d.verifier?.forget();
  }

  /** Never decide, write status or release nodes from caches that may miss what the server
   *  has: wait for them to be listed again. */
  async reconcile(name: string): Promise<{ requeueAfterMs?: number } | void> {
    const caches = this.d.caches?.();
    if (caches && !caches.fresh) return { requeueAfterMs: STALE_CACHE_RETRY_MS };
    try {
      return await this.reconcileFresh(name, () => {
        const now = this.d.caches?.();
        if (caches && now && (!now.fresh || now.epoch !== caches.epoch)) throw new StaleCache();
      });
    } catch (err) {
      if (err instanceof StaleCache) return { requeueAfterMs: STALE_CACHE_RETRY_MS };
      throw err;
    }
  }

  private async reconcileFresh(name: string, stillFresh: () => void): Promise<{ requeueAfterMs?: number } | void> {
    const policy = this.d.policy(name);
    if (!policy) return this.cleanupOrphans(name, stillFresh);
    const checked = validatePolicy(policy);
    if (!checked.ok) {
      const message = checked.errors.map(formatFieldError).join('; ');
      await this.writeStatus(policy, { ...emptySummary(policy), invalid: message });
      throw new TerminalError(`policy ${name} is invalid: ${message}`);
    }
    const deleting = Boolean(policy.metadata.deletionTimestamp);
    const finalizers = policy.metadata.finalizers ?? [];
    if (!deleting && !finalizers.includes(FINALIZER)) {
      await this.d.writer.setPolicyFinalizers(name, [...finalizers, FINALIZER], policy.metadata.resourceVersion);
      return; // the update event brings us back with the finalizer in the cache
    }

    const { targets, removals, unsupported, lost } = this.collect(policy, deleting);
    const now = this.d.now();
    const planNodes = [
      ...targets.map((t) => this.expectations.overlay(toPlanNode(t.node, t.hash))),
      ...removals.map((n) => this.expectations.overlay(toPlanNode(n, REMOVED_HASH))),
    ];
    const verified = this.d.verifier ? await this.d.verifier.check(policy, planNodes, targets) : planNodes;
    const rollout = resolveRollout(policy.spec);
    this.lastRollout.set(name, rollout);
    const decide = () => planRollout({ nodes: verified, rollout, now });
    const plan = this.d.planned ? this.d.planned(decide) : decide();

    const byName = new Map(targets.map((t) => [t.node.name, t]));
    stillFresh();
    // One batch, written together: the planner already counted every one of them.
    await Promise.all(
      plan.release.map((nodeName) => {
        const t = byName.get(nodeName);
        return this.release(policy, nodeName, t ? t.hash : REMOVED_HASH, t ? t.config : null, now);
      }),
    );
    // Removal done: the node carries nothing of ours any more.
    for (const n of removals) {
      if (plan.phases[n.name] === 'Updated') await this.d.writer.patchNodeAnnotations(n.name, clearOurs(n));
    }
    await this.announceFailures(policy, plan, verified);

    const summary = summarize(policy, plan, targets, unsupported, deleting, lost);
    this.d.onPlan?.(name, plan, summary);

    stillFresh();
    if (deleting && removals.length === 0) {
      await this.d.writer.setPolicyFinalizers(name, finalizers.filter((f) => f !== FINALIZER), policy.metadata.resourceVersion);
      return;
    }
    const statusDeferredMs = await this.writeStatus(policy, summary);
    const requeue = [plan.requeueAfterMs, statusDeferredMs].filter((v): v is number => v !== undefined);
    return requeue.length ? { requeueAfterMs: Math.min(...requeue) } : undefined;
  }

  /** Which nodes this policy configures (with their render), which it must clean up, and which
   *  it selects but another policy owns. */
  private collect(policy: NodeTracingPolicy, deleting: boolean): { targets: Target[]; removals: CachedNode[]; unsupported: number; lost: string[] } {
    const name = policy.metadata.name ?? '';
    const nodes = this.d.nodes();
    const { owner, lost } = assignOwners(this.d.policies(), nodes);
    const targets: Target[] = [];
    const removals: CachedNode[] = [];
    let unsupported = 0;
    // A render depends on the spec and the kubelet version only: thousands of nodes share a few.
    const rendered = new Map<string, ReturnType<typeof render>>();
    const renderFor = (version: string) => {
      let r = rendered.get(version);
      if (!r) rendered.set(version, (r = render(policy.spec, version)));
      return r;
    };
    for (const node of nodes) {
      const mine = !deleting && owner.get(node.name) === name;
      if (mine) {
        const r = renderFor(node.kubeletVersion);
        if (r.supported) {
          targets.push({ node, hash: r.hash, config: r.config });
          continue;
        }
        unsupported++;
      }
      // Ours by annotation but no longer ours to configure: take our drop-in off again, unless
      // another policy now owns the node (its release replaces the file in one restart).
      const otherOwner = owner.get(node.name);
      if (ownerOf(node) === name && (otherOwner === undefined || otherOwner === name) && hasOurConfig(node)) {
        removals.push(node);
      }
    }
    return { targets, removals, unsupported, lost: lost.get(name) ?? [] };
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
    this.d.log?.('released node', { policy: name, node, hash });
  }

  private async announceFailures(policy: NodeTracingPolicy, plan: Plan, nodes: PlanNode[]): Promise<void> {
    const name = policy.metadata.name ?? '';
    const seen = this.announced.get(name) ?? new Set<string>();
    this.announced.set(name, seen);
    for (const n of nodes) {
      if (plan.phases[n.name] !== 'Failed') continue;
      const key = `${n.name}@${n.targetHash}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const why = plan.timedOut.includes(n.name) ? 'timed out' : (n.state ?? 'failed');
      await this.d.writer.event({ kind: 'Node', name: n.name }, 'Warning', 'TracingConfigFailed', `policy ${name}: config ${n.targetHash} ${why}`);
      await this.d.writer.event({ kind: 'NodeTracingPolicy', name, uid: policy.metadata.uid }, 'Warning', 'NodeFailed', `node ${n.name}: config ${n.targetHash} ${why}`);
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
   *  configuration off its nodes, with the default rollout rules. */
  private async cleanupOrphans(name: string, stillFresh: () => void): Promise<{ requeueAfterMs?: number } | void> {
    const orphans = this.d.nodes().filter((n) => ownerOf(n) === name && hasOurConfig(n));
    if (orphans.length === 0) {
      this.lastRollout.delete(name);
      return;
    }
    // Its last known settings (or, after a controller restart, the defaults), never paused: the
    // pause belonged to a policy that is gone.
    const rollout = { ...(this.lastRollout.get(name) ?? resolveRollout({ tracing: {} })), paused: false };
    const plan = planRollout({ nodes: orphans.map((n) => this.expectations.overlay(toPlanNode(n, REMOVED_HASH))), rollout, now: this.d.now() });
    const now = this.d.now();
    const orphanPolicy = { metadata: { name } } as NodeTracingPolicy;
    stillFresh();
    for (const node of plan.release) await this.release(orphanPolicy, node, REMOVED_HASH, null, now);
    for (const n of orphans) {
      if (plan.phases[n.name] === 'Updated') await this.d.writer.patchNodeAnnotations(n.name, clearOurs(n));
    }
    // The orphans' own Node events bring this key back (nodeChanged enqueues a node's policy).
    return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : undefined;
  }
}

/** What the status says about one reconcile's plan. */
function summarize(policy: NodeTracingPolicy, plan: Plan, targets: Target[], unsupported: number, deleting: boolean, lost: string[]): RolloutSummary {
  return {
    generation: policy.metadata.generation ?? 0,
    configHash: intentHash(policy.spec),
    target: targets.length,
    updated: targets.filter((t) => plan.phases[t.node.name] === 'Updated').length,
    failed: plan.failed,
    unsupported,
    paused: plan.paused,
    halted: plan.halted,
    blocked: !plan.halted && !plan.paused && !plan.complete && plan.release.length === 0 &&
      plan.inProgress === 0 && plan.soaking === 0 && plan.pending > 0 && plan.unavailable >= plan.maxUnavailable,
    complete: plan.complete && !deleting,
    deleting,
    failedNodes: Object.entries(plan.phases).filter(([, p]) => p === 'Failed').map(([n]) => n).sort(),
    conflictNodes: [...lost].sort(),
  };
}

function hasOurConfig(n: CachedNode): boolean {
  return Object.keys(n.ours).length > 0;
}

function clearOurs(n: CachedNode): Record<string, null> {
  return Object.fromEntries(Object.keys(n.ours).filter((k) => k.startsWith(ANNOTATION_PREFIX)).map((k) => [k, null]));
}

function emptySummary(policy: NodeTracingPolicy): RolloutSummary {
  return {
    generation: policy.metadata.generation ?? 0, configHash: '', target: 0, updated: 0, failed: 0, unsupported: 0,
    paused: false, halted: false, blocked: false, complete: false, deleting: false, failedNodes: [], conflictNodes: [],
  };
}
