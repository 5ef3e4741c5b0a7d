// The rollout planner: pure. It reads the nodes' hand-off annotations (already parsed) and the
// resolved rollout settings, and says which nodes to release next. A separate executor writes.
//
// Rules, for a node whose target hash is T (a render hash, or REMOVED_HASH for removal):
//  1. Failed     stateHash == T and state is Failed or RolledBack (the agent gave up on T).
//  2. Updated    appliedHash == T, the agent's state is Applied for T (or absent: nothing to
//                report, "config already matches"), the node is Ready, and the soak is over
//                (no stateTime, or now >= stateTime + minReadySeconds). No release needed.
//  3. Soaking    as Updated but inside the soak window. It still holds a slot: a kubelet that
//                restarted a moment ago has not yet proven itself.
//  4. InProgress desiredHash == T and none of the above: released, the agent is working or has not
//                started, or it applied T but the node is not Ready. Holds a slot.
//     ... and Failed (timed out) when now >= desiredTime + nodeTimeoutSeconds; such nodes are
//                also listed in `timedOut`.
//     ... also InProgress: released for an OLDER hash (the spec changed mid-rollout) whose agent
//                has not reported Applied/Failed/RolledBack for it yet: its kubelet may be
//                restarting now. Same timeout (then Failed: the agent is not answering).
//  5. Pending    otherwise: not released for T (or finished with an older release).
//  Drift (drift.ts of the agent, or /configz re-read by the controller):
//  6. Drifted    stateHash == T and the agent reports Drifted, or reports Applied and /configz
//                now disagrees (`configzDrift`). The kubelet runs (or will, at its next start)
//                something other than T. Holds no slot while Ready: it is not restarting. With
//                rollout.drift Repair it is released again like a Pending node (before them),
//                with a repair token (`repairOfMs`: the report's stateTime).
//     InProgress a repair released for that very report (repairOfMs == stateTimeMs): the agent
//                re-applies T with a restart. Same timeout as any release.
//                A repair that rolls back or fails ends Failed (rule 1), and is not released again.
//  unavailable = InProgress + Soaking + Failed + not-Ready nodes + `borrowed`. A node that is
//                down for reasons of its own still counts against the budget, as in a
//                DaemonSet rolling update. Except: a node whose agent RolledBack and that is
//                Ready runs its old config, proven healthy: it counts against maxFailures only
//                (a timed-out node, or an agent-reported Failed, may still have its kubelet
//                down, and keeps its slot). `borrowed`: nodes this policy released that now
//                belong to another policy and are still restarting on our release.
//  maxUnavailable: an int as is; "N%" of the nodes in the input, rounded down, at least 1.
//  slots = maxUnavailable - unavailable.
//  halted = failed > maxFailures. Paused or halted: release nothing.
//  Otherwise release up to `slots` Ready Pending nodes, by nodeOrderKey(uid, T) ascending (then
//  name): a stable order that does not follow node names, as system-upgrade-controller does.
//  complete = every node Updated. done = nothing more will happen without a change: every
//                node Updated or Failed, failed <= maxFailures, not paused (a rollout whose
//                failures the policy tolerates ends, with those nodes reported).
//  requeueAfterMs = the earliest soak end or InProgress timeout, from now (>= 0), if any.
// Deadlines are inclusive (at the deadline the phase has changed), so a requeue at exactly
// `requeueAfterMs` always observes the change.
import { createHash } from 'node:crypto';
import type { AgentState } from '../api/annotations.js';
import { isTerminal } from '../api/handoff.js';
import type { ResolvedRollout } from '../api/types.js';

export interface PlanNode {
  name: string;
  uid: string;
  ready: boolean;
  /** nodetracing.dev/desired-hash: what the controller released. */
  desiredHash?: string;
  /** nodetracing.dev/desired-time, parsed. */
  desiredTimeMs?: number;
  /** nodetracing.dev/state */
  state?: AgentState;
  /** nodetracing.dev/state-hash: the desired hash the state refers to. */
  stateHash?: string;
  /** nodetracing.dev/state-time, parsed. */
  stateTimeMs?: number;
  /** nodetracing.dev/applied-hash */
  appliedHash?: string;
  /** The hash this node should end up with (a render hash, or REMOVED_HASH for removal). */
  targetHash: string;
  /** nodetracing.dev/message (or a configz disagreement): not planned on, only reported. */
  message?: string;
  /** nodeOrderKey(uid, targetHash), when the caller keeps it (computed here otherwise). */
  orderKey?: string;
  /** nodetracing.dev/repair, parsed: the stateTime of the report a repair release answers. */
  repairOfMs?: number;
  /** /configz, read again after an earlier read agreed, now disagrees (verify: Configz). */
  configzDrift?: string;
}

export interface PlanInput {
  nodes: PlanNode[];
  rollout: ResolvedRollout;
  now: number;
  /** Slots held outside `nodes`: nodes handed to another policy while restarting on ours. */
  borrowed?: number;
}

export type NodePhase = 'Updated' | 'Soaking' | 'InProgress' | 'Failed' | 'Pending' | 'Drifted';

export interface Plan {
  /** Node names to hand the desired config to now, in order: Drifted nodes to repair first. */
  release: string[];
  /** Every node's phase. */
  phases: Record<string, NodePhase>;
  /** InProgress nodes past nodeTimeoutSeconds: counted as Failed. */
  timedOut: string[];
  updated: number;
  failed: number;
  inProgress: number;
  soaking: number;
  pending: number;
  drifted: number;
  /** Slots in use. */
  unavailable: number;
  /** Resolved integer. */
  maxUnavailable: number;
  /** failed > maxFailures: no more releases. */
  halted: boolean;
  paused: boolean;
  /** Every node Updated. */
  complete: boolean;
  /** Nothing more will happen without a change: every node Updated or Failed (or Drifted, with
   *  rollout.drift Report), failures within maxFailures, not paused. */
  done: boolean;
  /** Earliest moment something changes by time alone (soak end, node timeout). */
  requeueAfterMs?: number;
}

/** An int as is; "N%" -> floor(total * N / 100), at least 1. */
export function resolveMaxUnavailable(v: number | string, total: number): number {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`spec.rollout.maxUnavailable: ${v} is not an integer`);
    return v;
  }
  const m = /^(\d+)%$/.exec(v.trim());
  if (m?.[1] !== undefined) return Math.max(1, Math.floor((total * Number(m[1])) / 100));
  if (/^\d+$/.test(v.trim())) return Number(v.trim());
  throw new Error(`spec.rollout.maxUnavailable: "${v}" is neither an integer nor "N%"`);
}

/** sha256(uid + ':' + hash), hex: the release order, stable per config and unrelated to names. */
export function nodeOrderKey(uid: string, hash: string): string {
  return createHash('sha256').update(`${uid}:${hash}`).digest('hex');
}

export interface Classified {
  phase: NodePhase;
  timedOut: boolean;
  /** Failed because the agent rolled back: its kubelet is back on the old config. */
  rolledBack?: boolean;
  /** Absolute time at which this node's phase changes by time alone. */
  deadline?: number;
}

// The verdicts without a deadline, shared: thousands of nodes are classified per reconcile.
const UPDATED: Classified = { phase: 'Updated', timedOut: false };
const PENDING: Classified = { phase: 'Pending', timedOut: false };
const IN_PROGRESS: Classified = { phase: 'InProgress', timedOut: false };
const TIMED_OUT: Classified = { phase: 'Failed', timedOut: true };
const FAILED: Classified = { phase: 'Failed', timedOut: false, rolledBack: false };
const ROLLED_BACK: Classified = { phase: 'Failed', timedOut: false, rolledBack: true };
const DRIFTED: Classified = { phase: 'Drifted', timedOut: false };

/** The agent's report for T says it drifted (or /configz says so about its Applied report). */
function drifted(n: PlanNode, T: string): boolean {
  return n.stateHash === T && (n.state === 'Drifted' || (n.state === 'Applied' && n.configzDrift !== undefined));
}

/** A repair of this very report was released: the agent is (about to be) re-applying T. */
export function repairing(n: PlanNode, T: string): boolean {
  return n.desiredHash === T && n.stateHash === T && (n.state === 'Drifted' || n.state === 'Applied') &&
    n.repairOfMs !== undefined && n.repairOfMs === n.stateTimeMs;
}

function released(n: PlanNode, r: ResolvedRollout, now: number): Classified {
  if (n.desiredTimeMs === undefined) return IN_PROGRESS;
  const timeout = n.desiredTimeMs + r.nodeTimeoutSeconds * 1000;
  if (now >= timeout) return TIMED_OUT;
  return { phase: 'InProgress', timedOut: false, deadline: timeout };
}

export function classify(n: PlanNode, r: ResolvedRollout, now: number): Classified {
  const T = n.targetHash;
  if (n.stateHash === T && (n.state === 'Failed' || n.state === 'RolledBack')) return n.state === 'RolledBack' ? ROLLED_BACK : FAILED;
  if (repairing(n, T)) return released(n, r, now);
  if (drifted(n, T)) return DRIFTED;
  const reportsApplied = n.state === undefined || (n.state === 'Applied' && n.stateHash === T);
  if (n.appliedHash === T && reportsApplied && n.ready) {
    const soakEnd = n.stateTimeMs === undefined ? undefined : n.stateTimeMs + r.minReadySeconds * 1000;
    if (soakEnd !== undefined && now < soakEnd) return { phase: 'Soaking', timedOut: false, deadline: soakEnd };
    return UPDATED;
  }
  if (n.desiredHash === T) return released(n, r, now);
  if (n.desiredHash !== undefined && !finishedWith(n, n.desiredHash)) {
    // Released for an older config (the spec changed mid-rollout) and its agent has not
    // finished with it: the kubelet may be restarting right now, so the node holds its slot
    // until the agent reports, and is released for T only after that.
    return released(n, r, now);
  }
  return PENDING;
}

/** Released (for any hash) and its agent has not finished with that release, within the
 *  timeout: its kubelet may be restarting right now. */
export function inFlight(n: PlanNode, r: ResolvedRollout, now: number): boolean {
  if (n.desiredHash === undefined || finishedWith(n, n.desiredHash)) return false;
  return n.desiredTimeMs === undefined || now < n.desiredTimeMs + r.nodeTimeoutSeconds * 1000;
}

function finishedWith(n: PlanNode, hash: string): boolean {
  return n.stateHash === hash && isTerminal(n.state) && !repairing(n, hash);
}

export type Keyed = { name: string; key: string };

/** Release order: nodeOrderKey, then name. */
export function before(a: Keyed, b: Keyed): boolean {
  return a.key < b.key || (a.key === b.key && a.name < b.name);
}

/** The names of the first k nodes in release order. A reconcile usually fills one or two freed
 *  slots out of thousands of pending nodes: keep the k first, not a full sort. */
export function firstInOrder(nodes: PlanNode[], k: number): string[] {
  if (k <= 0 || nodes.length === 0) return [];
  const keyed = (n: PlanNode): Keyed => ({ name: n.name, key: n.orderKey ?? nodeOrderKey(n.uid, n.targetHash) });
  if (k >= nodes.length / 8) return nodes.map(keyed).sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0)).slice(0, k).map((c) => c.name);
  const best: Keyed[] = [];
  for (const n of nodes) {
    const c = keyed(n);
    const last = best[best.length - 1];
    if (best.length === k && last !== undefined && !before(c, last)) continue;
    let i = best.length;
    while (i > 0 && before(c, best[i - 1] as Keyed)) i--;
    best.splice(i, 0, c);
    if (best.length > k) best.pop();
  }
  return best.map((c) => c.name);
}

export function planRollout(input: PlanInput): Plan {
  const { nodes, rollout, now } = input;
  const phaseOf: NodePhase[] = new Array<NodePhase>(nodes.length);
  const timedOut: string[] = [];
  const counts: Record<NodePhase, number> = { Updated: 0, Soaking: 0, InProgress: 0, Failed: 0, Pending: 0, Drifted: 0 };
  let unavailable = input.borrowed ?? 0;
  let earliest: number | undefined;
  const candidates: PlanNode[] = [];
  const repairs: PlanNode[] = [];

  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i] as PlanNode;
    const c = classify(n, rollout, now);
    phaseOf[i] = c.phase;
    counts[c.phase]++;
    if (c.timedOut) timedOut.push(n.name);
    if (c.deadline !== undefined && (earliest === undefined || c.deadline < earliest)) earliest = c.deadline;
    if (holdsSlot(c) || !n.ready) unavailable++;
    if (isCandidate(c, n)) candidates.push(n);
    if (isRepair(c, n, rollout)) repairs.push(n);
  }
  // Every node's phase by name is made when first read: a reconcile of thousands of nodes mostly
  // needs the counts and the release, and filling a record of thousands of names was the
  // largest part of its planning.
  const phases = (): Record<string, NodePhase> => {
    const out: Record<string, NodePhase> = {};
    nodes.forEach((n, i) => (out[n.name] = phaseOf[i] as NodePhase));
    return out;
  };
  return assemblePlan({
    counts, total: nodes.length, unavailable, timedOut, earliest,
    firstRepairs: (k) => firstInOrder(repairs, k),
    firstCandidates: (k) => firstInOrder(candidates, k),
  }, rollout, now, phases);
}

/** InProgress, Soaking, and Failed unless rolled back (its kubelet runs the old config, proven). */
export function holdsSlot(c: Classified): boolean {
  return c.phase === 'InProgress' || c.phase === 'Soaking' || (c.phase === 'Failed' && !c.rolledBack);
}

/** A Ready Pending node: may be released. */
export function isCandidate(c: Classified, n: PlanNode): boolean {
  return c.phase === 'Pending' && n.ready;
}

/** A Ready Drifted node under drift: Repair: released again before the Pending ones. */
export function isRepair(c: Classified, n: PlanNode, r: ResolvedRollout): boolean {
  return c.phase === 'Drifted' && n.ready && r.drift === 'Repair';
}

/** What the planner counted over a policy's nodes (planRollout, or a policy's PlanState kept
 *  between reconciles): the decision made from it is the same. */
export interface Tally {
  counts: Record<NodePhase, number>;
  /** Nodes planned (targets and removals): the base of "N%". */
  total: number;
  /** Slots in use, borrowed included. */
  unavailable: number;
  timedOut: string[];
  /** Earliest deadline (soak end, node timeout), absolute. */
  earliest: number | undefined;
  /** The names of the first k repairs / Ready Pending nodes, in release order. */
  firstRepairs: (k: number) => string[];
  firstCandidates: (k: number) => string[];
}

/** The plan from a tally: slots, halt, pause, the release, and the end states. `phases` is
 *  made when first read. */
export function assemblePlan(t: Tally, rollout: ResolvedRollout, now: number, phases: () => Record<string, NodePhase>): Plan {
  const { counts } = t;
  const maxUnavailable = resolveMaxUnavailable(rollout.maxUnavailable, t.total);
  const halted = counts.Failed > rollout.maxFailures;
  const paused = rollout.paused;
  let release: string[] = [];
  const slots = maxUnavailable - t.unavailable;
  if (!paused && !halted && slots > 0) {
    // A drifted node runs something nobody rolled out: put it right before moving on.
    const repair = t.firstRepairs(slots);
    release = [...repair, ...t.firstCandidates(slots - repair.length)];
  }
  const plan: Plan = {
    release,
    phases: {},
    timedOut: t.timedOut,
    updated: counts.Updated,
    failed: counts.Failed,
    inProgress: counts.InProgress,
    soaking: counts.Soaking,
    pending: counts.Pending,
    drifted: counts.Drifted,
    unavailable: t.unavailable,
    maxUnavailable,
    halted,
    paused,
    complete: counts.Updated === t.total,
    done: !paused && !halted && counts.Updated + counts.Failed + (rollout.drift === 'Report' ? counts.Drifted : 0) === t.total,
  };
  if (t.earliest !== undefined) plan.requeueAfterMs = Math.max(0, t.earliest - now);
  Object.defineProperty(plan, 'phases', {
    enumerable: true,
    configurable: true,
    get() {
      const value = phases();
      Object.defineProperty(plan, 'phases', { value, enumerable: true, writable: true, configurable: true });
      return value;
    },
  });
  return plan;
}
