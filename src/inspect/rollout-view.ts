// Pure: what `kto status` shows. One policy's rollout, node by node, computed from the Nodes'
// hand-off annotations with the controller's own pieces (ownership, collect, planner), so the
// view and the controller cannot disagree on what a node's phase is. The Ready condition is the
// controller's last word (policy.status): a view is not a reconcile.
import { REMOVED_HASH } from '../api/annotations.js';
import { decode } from '../api/handoff.js';
import type { Condition, DriftMode, FailedNodeStatus, NodeTracingPolicy, UnsupportedNodeStatus } from '../api/types.js';
import { collect, rolloutFor, summarize } from '../controller/collect.js';
import { toPlanNode, type CachedNode } from '../controller/nodes.js';
import { assignOwners, whyOutranks } from '../controller/ownership.js';
import { planRollout, type NodePhase, type PlanNode } from '../controller/planner.js';
import { checkPolicy } from '../controller/validity.js';
import { formatFieldError } from '../validate/errors.js';
import { intentHash } from '../render/render.js';

export interface NodeRow {
  node: string;
  kubeletVersion: string;
  /** The planner's phase of this node for its target. */
  phase: NodePhase;
  /** The target is the removal of this policy's drop-in (the node left it, or it is deleted). */
  removing: boolean;
  /** nodetracing.dev/state: what the agent last reported. */
  agentState?: string;
  /** nodetracing.dev/applied-hash: what the node runs. */
  appliedHash?: string;
  /** What the node should run: the render hash for its kubelet, or "removed". */
  desiredHash: string;
  /** nodetracing.dev/desired-hash: what the controller released to it, if anything. */
  releasedHash?: string;
  /** The last change of its hand-off (release or agent report), RFC 3339. */
  since?: string;
  ready: boolean;
  failure?: FailedNodeStatus['reason'];
  /** The agent's report, with the kubelet's own error after a rollback. */
  message?: string;
}

export interface ConflictRow {
  node: string;
  ownedBy: string;
  /** Why the owner wins: priority, then name. */
  why: string;
}

export interface PolicyCounts {
  target: number;
  updated: number;
  /** Released and not verified yet, or soaking (minReadySeconds). */
  inProgress: number;
  pending: number;
  failed: number;
  /** Their configuration drifted from what was rolled out to them (not repaired yet). */
  drifted: number;
  unsupported: number;
  conflict: number;
  /** Nodes whose drop-in of this policy still has to come off. */
  removing: number;
}

export interface PolicyView {
  name: string;
  generation: number;
  /** The generation the controller's status describes (behind: it has not caught up yet). */
  observedGeneration?: number;
  configHash: string;
  deleting: boolean;
  paused: boolean;
  /** spec.rollout.drift: drifted nodes are repaired, or only reported. */
  drift: DriftMode;
  /** The spec's validation errors: the controller acts on none of its nodes. */
  invalid?: string;
  ready?: Pick<Condition, 'status' | 'reason' | 'message'>;
  counts: PolicyCounts;
  nodes: NodeRow[];
  unsupported: UnsupportedNodeStatus[];
  conflicts: ConflictRow[];
  /** When phases next change by time alone (a soak ends, a node times out). */
  requeueAfterMs?: number;
}

const byNode = <T extends { node: string }>(a: T, b: T): number => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0);

function latest(...times: (string | undefined)[]): string | undefined {
  const parsed = times.filter((t): t is string => t !== undefined && !Number.isNaN(Date.parse(t)));
  return parsed.sort((a, b) => Date.parse(b) - Date.parse(a))[0];
}

function row(n: CachedNode, p: PlanNode, phase: NodePhase, failure: FailedNodeStatus | undefined): NodeRow {
  const h = decode(n.ours);
  const since = latest(h.desiredTime, h.stateTime);
  return {
    node: n.name,
    kubeletVersion: n.kubeletVersion,
    phase,
    removing: p.targetHash === REMOVED_HASH,
    desiredHash: p.targetHash,
    ready: n.ready,
    ...(h.state ? { agentState: h.state } : {}),
    ...(p.appliedHash ? { appliedHash: p.appliedHash } : {}),
    ...(h.desiredHash ? { releasedHash: h.desiredHash } : {}),
    ...(since ? { since } : {}),
    ...(failure ? { failure: failure.reason } : {}),
    ...(p.message ? { message: p.message } : {}),
  };
}

export function policyView(policy: NodeTracingPolicy, policies: NodeTracingPolicy[], nodes: CachedNode[], now: number): PolicyView {
  const name = policy.metadata.name ?? '';
  const checked = checkPolicy(policy);
  const deleting = Boolean(policy.metadata.deletionTimestamp);
  const ready = policy.status?.conditions?.find((c) => c.type === 'Ready');
  const base = {
    name,
    generation: policy.metadata.generation ?? 0,
    ...(policy.status?.observedGeneration !== undefined ? { observedGeneration: policy.status.observedGeneration } : {}),
    configHash: checked.ok ? intentHash(policy.spec) : '',
    deleting,
    ...(ready ? { ready: { status: ready.status, reason: ready.reason, message: ready.message } } : {}),
  };
  if (!checked.ok && !deleting) {
    const counts = { target: 0, updated: 0, inProgress: 0, pending: 0, failed: 0, drifted: 0, unsupported: 0, conflict: 0, removing: 0 };
    return { ...base, paused: false, drift: 'Repair', invalid: checked.errors.map(formatFieldError).join('; '), counts, nodes: [], unsupported: [], conflicts: [] };
  }
  const rollout = rolloutFor(policy, checked, undefined);
  const c = collect(policy, nodes, assignOwners(policies, nodes), deleting, rollout, now);
  const cached = [...c.targets.map((t) => ({ n: t.node, p: toPlanNode(t.node, t.hash) })), ...c.removals.map((n) => ({ n, p: toPlanNode(n, REMOVED_HASH) }))];
  const planned = cached.map((x) => x.p);
  const plan = planRollout({ nodes: planned, rollout, now, borrowed: c.borrowed });
  const failures = new Map(summarize(policy, plan, planned, c, rollout).failures.map((f) => [f.node, { node: f.node, reason: f.why, ...(f.message ? { message: f.message } : {}) }]));
  const rows = cached.map(({ n, p }) => row(n, p, plan.phases[n.name] ?? 'Pending', failures.get(n.name))).sort(byNode);
  const targets = rows.filter((r) => !r.removing);
  const count = (...phases: NodePhase[]) => targets.filter((r) => phases.includes(r.phase)).length;
  const byName = new Map(policies.map((p) => [p.metadata.name ?? '', p]));
  return {
    ...base,
    paused: rollout.paused,
    drift: rollout.drift,
    counts: {
      target: targets.length,
      updated: count('Updated'),
      inProgress: count('InProgress', 'Soaking'),
      pending: count('Pending'),
      failed: count('Failed'),
      drifted: count('Drifted'),
      unsupported: c.unsupported,
      conflict: c.conflicts.length,
      removing: rows.filter((r) => r.removing && r.phase !== 'Updated').length,
    },
    nodes: rows,
    unsupported: [...c.unsupportedNodes].sort(byNode),
    conflicts: c.conflicts
      .map(({ node, owner }) => {
        const winner = byName.get(owner);
        return { node, ownedBy: owner, why: winner ? whyOutranks(winner, policy) : '' };
      })
      .sort(byNode),
    ...(plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : {}),
  };
}

