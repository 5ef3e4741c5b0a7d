// Reconcile one policy, level-based: re-read the caches, decide, write the few changes, report.
// watch -> decide (ownership, plan) -> render -> validate -> roll out (annotations) -> verify -> report
import {
  REMOVED_HASH,
} from '../api/annotations.js';
import { clearHandOff, decode, encodeRelease } from '../api/handoff.js';
import { FINALIZER, ROLLOUT_DEFAULTS, type NodeTracingPolicy, type ResolvedRollout } from '../api/types.js';
import type { KubeletTracingDropin } from '../render/render.js';
import { formatFieldError } from '../validate/errors.js';
import { collect, driftOf, hasOurConfig, invalidSummary, rolloutFor, summarize, type Collected, type Target } from './collect.js';
import { ownerOf, toPlanNode, type CachedNode } from './nodes.js';
import { assignOwners, type Ownership } from './ownership.js';
import { inFlight, planRollout, type Plan, type PlanNode } from './planner.js';
import { type NodeFeed, PlanState } from './plan-state.js';
import { buildStatus, describeFailure, sameStatus, transitions, type RolloutSummary } from './status.js';
import { TerminalError, type Result } from './result.js';
import type { ControllerHooks, RolloutOwner } from './hooks.js';
import type { Writer } from './writer.js';
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
  /** The same nodes with the cache's log of changed names (the controller's node informer), so
   *  a policy's kept plan is brought up to date from the nodes that changed alone. */
  nodeFeed?: () => NodeFeed;
  /** Who owns which node, when the caller keeps it between reconciles (it changes only with the
   *  policies and the nodes' labels); computed from policies() and nodes() otherwise. */
  ownership?: () => Ownership;
  writer: Writer;
  now: () => number;
  verifier?: ConfigzVerifier;
  log?: Logger;
  /** The controller's hooks, as it was given them (the ones used here: traceparent, onPlan,
   *  onPolicyGone, wrapPlan). */
  hooks?: ControllerHooks;
}

/** Least time between two status writes that change only counts. */
export const STATUS_INTERVAL_MS = 1000;
/** How soon a reconcile that found its policy's previous status write unanswered looks again. */
export const STATUS_BUSY_RETRY_MS = 50;

/** The queue key of the nodes no policy owns that still carry a hand-off of ours without naming a
 *  policy: a drop-in that came back after its removal (drift, reported by the agent). Not a
 *  valid policy name, so it cannot collide with one. */
export const UNOWNED_KEY = '<unowned>';

const UNOWNED_ROLLOUT: ResolvedRollout = { ...ROLLOUT_DEFAULTS, minReadySeconds: 0 };

/** How soon a reconcile that found the caches not fresh runs again. */
export const STALE_CACHE_RETRY_MS = 500;

/** Thrown (and turned into a requeue) when the caches were rebuilt from another history while a
 *  reconcile was running: what it decided describes a server that is gone. */
class StaleCache extends Error {}

/** Releases written but not yet seen in the cache: without them a fast second reconcile would
 *  see the node as Pending again and could exceed maxUnavailable. */
class Expectations {
  private readonly pending = new Map<string, { uid: string | undefined; hash: string; timeMs: number; repairOfMs?: number }>();
  clear(): void {
    this.pending.clear();
  }
  expect(node: string, uid: string | undefined, hash: string, timeMs: number, repairOfMs?: number): void {
    this.pending.set(node, { uid, hash, timeMs, ...(repairOfMs !== undefined ? { repairOfMs } : {}) });
  }
  /** The release was refused: the node is what the cache says again. */
  cancel(node: string, hash: string, timeMs: number): void {
    const e = this.pending.get(node);
    if (e?.hash === hash && e.timeMs === timeMs) this.pending.delete(node);
  }
  /** The node was deleted: nothing sent to it will show. */
  drop(node: string): void {
    this.pending.delete(node);
  }
  nodes(): string[] {
    return [...this.pending.keys()];
  }
  overlay(n: PlanNode): PlanNode {
    if (this.pending.size === 0) return n;
    const e = this.pending.get(n.name);
    if (!e) return n;
    // Another Node of the same name (deleted and made again): the release was not for this one.
    if (e.uid !== undefined && e.uid !== n.uid) {
      this.pending.delete(n.name);
      return n;
    }
    // A repair re-releases the hash the node already has: only its token says it landed.
    if (n.desiredHash === e.hash && (e.repairOfMs === undefined || n.repairOfMs === e.repairOfMs)) {
      this.pending.delete(n.name);
      return n;
    }
    if (e.repairOfMs !== undefined) return { ...n, desiredHash: e.hash, desiredTimeMs: e.timeMs, repairOfMs: e.repairOfMs };
    return { ...n, desiredHash: e.hash, desiredTimeMs: e.timeMs, state: undefined, stateHash: undefined };
  }
}

/** A release answering a drift report names that report (its state-time): the agent re-applies
 *  only for it. */
function repairToken(n: CachedNode, plan: Plan): string | undefined {
  return plan.drifted > 0 && plan.phases[n.name] === 'Drifted' ? decode(n.ours).stateTime : undefined;
}

export class Reconciler {
  private readonly expectations = new Expectations();
  /** Failed nodes already announced, per policy and hash: one Warning event per failure. */
  private readonly announced = new Map<string, Set<string>>();
  /** Drift reports already announced, per policy (UNOWNED_KEY too): node -> the report. */
  private readonly announcedDrift = new Map<string, Map<string, string>>();
  private readonly lastStatusWrite = new Map<string, number>();
  /** A status write (and its Events) still unanswered, per policy: the next one waits for it, so
   *  they land in order; node releases do not. */
  private readonly statusWrites = new Map<string, Promise<void>>();
  /** Each policy's last valid rollout settings: the removal of a policy that became invalid, or
   *  was force-deleted, keeps them. */
  private readonly lastRollout = new Map<string, ResolvedRollout>();
  /** Each policy's plan, kept between reconciles. */
  private readonly plans = new Map<string, PlanState>();

  constructor(private readonly d: ReconcileDeps) {}

  /** The server's history changed under the caches: forget what was learnt from the old one. */
  forget(): void {
    this.expectations.clear();
    this.plans.clear();
    this.announced.clear();
    this.announcedDrift.clear();
    // A status write still unanswered went to the old history: the next one does not wait for it.
    this.statusWrites.clear();
    this.d.verifier?.forget();
  }

  /** A Node was deleted: a release still expected of it is forgotten. */
  nodeDeleted(node: string): void {
    this.expectations.drop(node);
  }

  /** The nodes whose release is sent and not yet seen in the cache. */
  expecting(): string[] {
    return this.expectations.nodes();
  }

  /** The policies this reconciler keeps something about (a rollout, announcements, a status
   *  write time). One missing from the cache was deleted while this replica was not acting on
   *  it (a standby, a lost lease): running its key cleans up what is left and forgets it. */
  remembered(): string[] {
    const keys = new Set([...this.lastRollout.keys(), ...this.announced.keys(), ...this.announcedDrift.keys(), ...this.lastStatusWrite.keys()]);
    keys.delete(UNOWNED_KEY);
    return [...keys];
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
      if (name === UNOWNED_KEY) return await this.repairUnowned(stillFresh);
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
      await (this.statusWrites.get(name) ?? Promise.resolve()).catch(() => undefined);
      await this.writeStatus(policy, invalidSummary(policy, message)).write;
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
    const { c, verified, plan } = await this.planPolicy(policy, deleting, rollout, now);

    stillFresh();
    const { writes } = await this.act(policy, plan, c, now);
    await this.announceFailures(policy, plan, verified, rollout);
    await this.announceDrift(name, policy.metadata.uid, plan, verified);
    const summary = summarize(policy, plan, verified, c, rollout);
    this.d.hooks?.onPlan?.(name, plan, summary);

    stillFresh();
    if (deleting && c.removals.length === 0) {
      await this.d.writer.setPolicyFinalizers(name, finalizers.filter((f) => f !== FINALIZER), policy.metadata.resourceVersion);
      return;
    }
    // Not waited for: a hand-over that frees a slot must not wait for the status write's answer
    // (under load, a round trip of 0.1-0.5 s that held the policy's next reconcile).
    const status = this.writeStatus(policy, summary);
    const recheckMs = this.d.verifier?.nextRecheckMs(policy, now);
    const requeue = [plan.requeueAfterMs, status.deferredMs, recheckMs].filter((v): v is number => v !== undefined);
    const all = writes && status.write ? Promise.all([writes, status.write]).then(() => undefined) : (writes ?? status.write);
    if (requeue.length === 0 && !all) return undefined;
    return { ...(requeue.length ? { requeueAfterMs: Math.min(...requeue) } : {}), ...(all ? { writes: all } : {}) };
  }

  /** The policy's nodes and plan at `now`. Kept between reconciles (PlanState: the cost follows
   *  what changed); verify: Configz reads each claimed node's /configz, so such a policy's nodes
   *  are looked at afresh every time (the pure path PlanState is checked against). */
  private async planPolicy(policy: NodeTracingPolicy, deleting: boolean, rollout: ResolvedRollout, now: number): Promise<{ c: Collected; verified: PlanNode[]; plan: Plan }> {
    const name = policy.metadata.name ?? '';
    const overlay = (n: PlanNode): PlanNode => this.expectations.overlay(n);
    const wrap = <T extends { plan: Plan }>(decide: () => T): T => {
      let out: T | undefined;
      const plan = () => (out = decide()).plan;
      if (this.d.hooks?.wrapPlan) this.d.hooks.wrapPlan(plan);
      else plan();
      return out as T;
    };
    if (rollout.verify !== 'Configz' || !this.d.verifier) {
      const state = this.plans.get(name) ?? new PlanState();
      this.plans.set(name, state);
      const { c, planned, plan } = wrap(() => state.update({ policy, deleting, rollout, own: this.owners() }, this.d.nodeFeed?.() ?? this.d.nodes(), now, overlay));
      return { c, verified: planned, plan };
    }
    this.plans.delete(name);
    const c = collect(policy, this.d.nodes(), this.owners(), deleting, rollout, now);
    const planNodes: PlanNode[] = [];
    for (const t of c.targets) planNodes.push(overlay(toPlanNode(t.node, t.hash)));
    for (const n of c.removals) planNodes.push(overlay(toPlanNode(n, REMOVED_HASH)));
    const verified = await this.d.verifier.check(policy, planNodes, c.targets, now);
    return { c, verified, ...wrap(() => ({ plan: planRollout({ nodes: verified, rollout, now, borrowed: c.borrowed }) })) };
  }

  /** Writes the plan: the batch released (the planner already counted every one of them), and
   *  our annotations cleared from nodes whose removal is done. The one release path: a policy's
   *  own rollout and removals, a force-deleted policy's orphans, and stray drop-ins (`owner`
   *  undefined) all go through it. The releases are counted (expected) as they are sent and not
   *  waited for: `writes` settles when they are answered. */
  private async act(owner: RolloutOwner | undefined, plan: Plan, c: Pick<Collected, 'targets' | 'target' | 'removals'>, now: number): Promise<{ writes?: Promise<void> }> {
    // Only the released nodes are looked up (a few, out of thousands of targets): through the
    // collector's index where it keeps one, else one pass over the targets.
    let target = c.target;
    if (!target && plan.release.length > 0) {
      const released = new Set(plan.release);
      const byName = new Map(c.targets.filter((t) => released.has(t.node.name)).map((t) => [t.node.name, t]));
      target = (name) => byName.get(name);
    }
    const removals = new Map(c.removals.map((n) => [n.name, n]));
    const sent = plan.release.map((nodeName) => {
      const t = target?.(nodeName);
      const node = t?.node ?? removals.get(nodeName);
      const repairOf = node && repairToken(node, plan);
      return this.release(owner, { name: nodeName, uid: node?.uid }, t ? t.hash : REMOVED_HASH, t ? t.config : null, now, repairOf);
    });
    const writes = sent.length ? Promise.all(sent).then(() => undefined) : undefined;
    // Handled here, read by the queue later (a rejection with no handler yet would end the process).
    writes?.catch(() => undefined);
    for (const n of c.removals) {
      if (plan.phases[n.name] === 'Updated') await this.d.writer.patchNodeAnnotations(n.name, clearOurs(n));
    }
    return writes ? { writes } : {};
  }

  /** Hands a node its desired config. `owner` undefined: a node no policy owns (its stray
   *  drop-in comes off); `repairOf`: the drift report this release repairs. */
  private release(owner: RolloutOwner | undefined, to: { name: string; uid: string | undefined }, hash: string, config: KubeletTracingDropin | null, now: number, repairOf?: string): Promise<void> {
    const node = to.name;
    const name = owner?.metadata.name;
    const traceparent = owner && this.d.hooks?.traceparent?.(owner, hash);
    // Expected from the moment it is sent: a reconcile running before the answer counts the node
    // as released, never as a free slot.
    const repairOfMs = repairOf !== undefined ? Date.parse(repairOf) : undefined;
    this.expectations.expect(node, to.uid, hash, now, repairOfMs !== undefined && Number.isFinite(repairOfMs) ? repairOfMs : undefined);
    this.touch(node);
    return this.d.writer.patchNodeAnnotations(node, encodeRelease({ policy: name, hash, config, timeMs: now, traceparent, repairOf })).then(
      () => this.d.log?.info({ policy: name ?? UNOWNED_KEY, node, hash, ...(repairOf !== undefined ? { repairOf } : {}) }, repairOf !== undefined ? 'released node to repair its drift' : 'released node'),
      (err: unknown) => {
        this.expectations.cancel(node, hash, now);
        this.touch(node);
        throw err;
      },
    );
  }

  /** Every kept plan decides `node` again at its next update. */
  private touch(node: string): void {
    for (const state of this.plans.values()) state.touch(node);
  }

  /** One Warning event per drift report (on the Node, and on the policy when there is one). */
  private async announceDrift(key: string, uid: string | undefined, plan: Plan, nodes: PlanNode[]): Promise<void> {
    const seen = this.announcedDrift.get(key) ?? new Map<string, string>();
    this.announcedDrift.set(key, seen);
    // Nothing drifted (the usual case): every report seen is over, without a lookup per node.
    if (plan.drifted === 0) {
      seen.clear();
      return;
    }
    for (const n of nodes) {
      if (plan.phases[n.name] !== 'Drifted') {
        seen.delete(n.name);
        continue;
      }
      const { message } = driftOf(n);
      const report = `${n.stateTimeMs ?? ''}/${message}`;
      if (seen.get(n.name) === report) continue;
      seen.set(n.name, report);
      const owner = key === UNOWNED_KEY ? 'no policy (its configuration was removed)' : `policy ${key}`;
      await this.d.writer.event({ kind: 'Node', name: n.name }, 'Warning', 'TracingConfigDrifted', `${owner}, config ${n.targetHash}: ${message}`);
      if (key !== UNOWNED_KEY) await this.d.writer.event({ kind: 'NodeTracingPolicy', name: key, uid }, 'Warning', 'NodeDrifted', `${n.name}: ${message} (config ${n.targetHash})`);
    }
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
   *  times); condition transitions and new generations go out at once. The write (and the Events
   *  of its transitions) is started, not waited for: `write` settles when it is answered, and a
   *  failure fails the key as a thrown error did. While one is unanswered the next is deferred,
   *  so they land in order. `deferredMs`: how long a deferred write waits, for the requeue. */
  private writeStatus(policy: NodeTracingPolicy, summary: RolloutSummary): { deferredMs?: number; write?: Promise<void> } {
    const name = policy.metadata.name ?? '';
    const now = this.d.now();
    const next = buildStatus(policy.status, summary, new Date(now));
    if (sameStatus(policy.status, next)) return {};
    if (this.statusWrites.has(name)) return { deferredMs: STATUS_BUSY_RETRY_MS };
    const changed = transitions(policy.status, next);
    const last = this.lastStatusWrite.get(name);
    const since = now - (last ?? Number.NEGATIVE_INFINITY);
    if (changed.length === 0 && policy.status?.observedGeneration === next.observedGeneration && since < STATUS_INTERVAL_MS) {
      return { deferredMs: STATUS_INTERVAL_MS - since };
    }
    this.lastStatusWrite.set(name, now);
    const write = (async () => {
      try {
        await this.d.writer.patchPolicyStatus(name, next);
      } catch (err: unknown) {
        // Not written: the next reconcile writes it, not held back by the interval.
        if (this.lastStatusWrite.get(name) === now) {
          if (last === undefined) this.lastStatusWrite.delete(name);
          else this.lastStatusWrite.set(name, last);
        }
        throw err;
      }
      for (const c of changed) {
        if (c.status !== 'True') continue;
        const warning = c.type === 'Stalled' || c.type === 'Degraded' || c.type === 'Conflict';
        await this.d.writer.event({ kind: 'NodeTracingPolicy', name, uid: policy.metadata.uid }, warning ? 'Warning' : 'Normal', c.reason, c.message);
      }
    })();
    this.statusWrites.set(name, write);
    const done = (): void => {
      if (this.statusWrites.get(name) === write) this.statusWrites.delete(name);
    };
    write.then(done, done);
    return { write };
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
    const { plan } = await this.remove({ metadata: { name } }, orphans, rollout, now, borrowed, stillFresh);
    // The orphans' own Node events bring this key back (nodeChanged enqueues a node's policy).
    return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : undefined;
  }

  /** Nodes no policy owns that carry a hand-off without a policy: the agent found our drop-in
   *  back after its removal (the controller had cleared the node's keys, and with them which
   *  policy it was). Taken off again one node at a time (the default maxUnavailable), never
   *  paused, then the keys cleared. No soak: the kubelet goes back to the configuration it ran
   *  before any policy, which has proven itself. */
  private async repairUnowned(stillFresh: () => void): Promise<Result> {
    const nodes = this.d.nodes();
    const own = this.owners();
    const stray = nodes.filter((n) => ownerOf(n) === undefined && hasOurConfig(n) && own.owner.get(n.name) === undefined);
    if (stray.length === 0) {
      this.announcedDrift.delete(UNOWNED_KEY);
      return undefined;
    }
    const { plan, planned } = await this.remove(undefined, stray, UNOWNED_ROLLOUT, this.d.now(), 0, stillFresh);
    await this.announceDrift(UNOWNED_KEY, undefined, plan, planned);
    return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : undefined;
  }

  /** Takes our configuration off `nodes`, in the planner's batches, through the main release
   *  path (act). `owner` undefined: nodes whose hand-off names no policy. */
  private async remove(owner: RolloutOwner | undefined, nodes: CachedNode[], rollout: ResolvedRollout, now: number, borrowed: number, stillFresh: () => void): Promise<{ plan: Plan; planned: PlanNode[] }> {
    const planned = nodes.map((n) => this.expectations.overlay(toPlanNode(n, REMOVED_HASH)));
    const plan = planRollout({ nodes: planned, rollout, now, borrowed });
    stillFresh();
    // Few nodes, rarely: their releases are waited for here.
    const { writes } = await this.act(owner, plan, { targets: [], removals: nodes }, now);
    await writes;
    return { plan, planned };
  }

  /** Nothing of the policy is left anywhere: forget it. */
  private gone(name: string): void {
    this.lastRollout.delete(name);
    this.plans.delete(name);
    this.announced.delete(name);
    this.announcedDrift.delete(name);
    this.lastStatusWrite.delete(name);
    this.d.verifier?.forgetPolicy(name);
    this.d.hooks?.onPolicyGone?.(name);
  }
}

function clearOurs(n: CachedNode): Record<string, null> {
  return clearHandOff(n.ours);
}
