// Status: pure. A rollout summary -> kstatus-compatible status (observedGeneration + metav1
// Conditions). lastTransitionTime moves only when a condition's status changes, and the
// transitions are what the controller turns into Events.
//
// The end states, as kstatus (Flux, cli-utils) and `kubectl wait --for=condition=Ready` read them:
//  - every target node updated, or every one updated or failed with failures within maxFailures:
//    Ready=True, Reconciling=False, Stalled=False: Current. Failures show as Degraded=True,
//    naming each node and why;
//  - more failures than maxFailures (RolloutHalted), or not-Ready nodes holding every slot
//    (RolloutBlocked): Stalled=True: Failed;
//  - no node to configure (none selected, all owned by other policies, or all unsupported):
//    Ready=False NoTargetNodes, Reconciling=False, Stalled=False. Nothing is wrong with the
//    rollout, but the policy applies to nothing: it must not read as Ready.
//  - being deleted: Ready=False RemovingConfiguration while the drop-ins come off (a pause does
//    not hold a deletion back).
//  - drifted nodes (what they hold is no longer what was rolled out): Degraded=True NodesDrifted
//    naming them and what changed. With rollout.drift Repair they are not updated any more, so
//    the rollout is in progress again (Ready=False) until they are repaired; with Report the
//    rollout stays complete (Ready=True) and only Degraded says so.
import { STATUS_LIST_MAX, STATUS_MESSAGE_MAX } from '../api/schema.js';
import type { Condition, DriftedNodeStatus, DriftMode, NodeTracingPolicyStatus, UnsupportedNodeStatus } from '../api/types.js';
import { canonicalJson } from '../render/hash.js';

export const Reason = {
  RolloutComplete: 'RolloutComplete',
  RolloutInProgress: 'RolloutInProgress',
  RolloutPaused: 'RolloutPaused',
  RolloutHalted: 'RolloutHalted',
  RolloutBlocked: 'RolloutBlocked',
  NoTargetNodes: 'NoTargetNodes',
  NodesFailed: 'NodesFailed',
  NodesDrifted: 'NodesDrifted',
  NoFailures: 'NoFailures',
  InvalidSpec: 'InvalidSpec',
  NodesOwnedByOtherPolicy: 'NodesOwnedByOtherPolicy',
  NoConflict: 'NoConflict',
  Removing: 'RemovingConfiguration',
  AsExpected: 'AsExpected',
} as const;

/** A target node the rollout gave up on, and why. */
export interface NodeFailure {
  node: string;
  /** RolledBack: the agent restored the old config (kubelet healthy on it); Failed: the agent
   *  could not apply or roll back, or configz disagreed; TimedOut: no result within
   *  nodeTimeoutSeconds. */
  why: 'RolledBack' | 'Failed' | 'TimedOut';
  /** The agent's (the kubelet's) own words, from nodetracing.dev/message. */
  message?: string;
}

export interface RolloutSummary {
  generation: number;
  configHash: string;
  target: number;
  updated: number;
  failed: number;
  unsupported: number;
  paused: boolean;
  halted: boolean;
  /** Not halted, yet nothing can move: failed or not-Ready nodes use up maxUnavailable. */
  blocked: boolean;
  /** Nothing more to do: every target updated, or updated or failed within maxFailures. */
  complete: boolean;
  deleting: boolean;
  maxFailures: number;
  nodeTimeoutSeconds: number;
  failures: NodeFailure[];
  /** Nodes whose configuration drifted from what was rolled out, with what changed (absent: none). */
  drifted?: DriftedNodeStatus[];
  /** spec.rollout.drift: whether the drifted nodes are being repaired or only reported. */
  drift?: DriftMode;
  /** Selected nodes that another policy owns, with that policy. */
  conflicts: { node: string; owner: string }[];
  /** Owned nodes whose kubelet cannot take the configuration, with why (`unsupported` counts
   *  them; absent: none named). */
  unsupportedNodes?: UnsupportedNodeStatus[];
  /** Nodes the selector matches, whoever owns them. */
  selected: number;
  /** Nodes that carried this policy's configuration and must lose it (it is being deleted, or
   *  they left its selector or went to another policy), and how many are clean. */
  removal?: { total: number; done: number };
  /** Set when the spec failed validation: nothing else is meaningful then. */
  invalid?: string;
}

type Cond = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

function list(names: string[], max = 5): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

const MESSAGE_MAX = 200;

function clip(s: string): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > MESSAGE_MAX ? `${one.slice(0, MESSAGE_MAX - 1)}…` : one;
}

/** "node-03 rolled back: <the kubelet's reason>", "node-07 timed out: ...". */
export function describeFailure(f: NodeFailure, nodeTimeoutSeconds: number): string {
  if (f.why === 'TimedOut') return `${f.node} timed out: no result from its agent within nodeTimeoutSeconds (${nodeTimeoutSeconds} s)`;
  const what = f.why === 'RolledBack' ? 'rolled back' : 'failed';
  return f.message ? `${f.node} ${what}: ${clip(f.message)}` : `${f.node} ${what}`;
}

function failuresMessage(s: RolloutSummary, max = 3): string {
  const shown = s.failures.slice(0, max).map((f) => describeFailure(f, s.nodeTimeoutSeconds));
  const more = s.failures.length > max ? `; and ${s.failures.length - max} more` : '';
  return `${shown.join('; ')}${more}`;
}

type Sorted = RolloutSummary & { drifted: DriftedNodeStatus[] };

function driftMessage(s: Sorted, max = 3): string {
  const shown = s.drifted.slice(0, max).map((d) => `${d.node}: ${clip(d.message)}`);
  const more = s.drifted.length > max ? `; and ${s.drifted.length - max} more` : '';
  const what = s.drift === 'Report' ? 'reported only (spec.rollout.drift: Report)' : s.paused ? 'repaired once the rollout is resumed' : 'being repaired';
  return `${s.drifted.length} node(s) drifted from the configuration rolled out to them, ${what}: ${shown.join('; ')}${more}`;
}

function degradedCondition(s: Sorted): Cond {
  if (s.failures.length > 0) {
    const drift = s.drifted.length > 0 ? `; ${s.drifted.length} more drifted (${list(s.drifted.map((d) => d.node))})` : '';
    return { type: 'Degraded', status: 'True', reason: Reason.NodesFailed, message: `${s.failures.length} node(s) failed: ${failuresMessage(s)}${drift}` };
  }
  if (s.drifted.length > 0) return { type: 'Degraded', status: 'True', reason: Reason.NodesDrifted, message: driftMessage(s) };
  return { type: 'Degraded', status: 'False', reason: Reason.NoFailures, message: '' };
}

function byOwner(conflicts: { node: string; owner: string }[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const c of [...conflicts].sort((a, b) => (a.node < b.node ? -1 : 1))) m.set(c.owner, [...(m.get(c.owner) ?? []), c.node]);
  return m;
}

function noTargetsMessage(s: RolloutSummary): string {
  if (s.selected === 0) return 'no node matches spec.nodeSelector';
  const owners = [...byOwner(s.conflicts).keys()].sort();
  const lost = s.conflicts.length;
  if (lost === s.selected) return `all ${s.selected} selected nodes are owned by other policies (${list(owners)})`;
  if (s.unsupported === s.selected) return `all ${s.selected} selected nodes are unsupported (see status.unsupported)`;
  return `none of the ${s.selected} selected nodes can be configured: ${lost} owned by other policies (${list(owners)}), ${s.unsupported} unsupported`;
}

function readyCondition(s: RolloutSummary, progress: string): Cond {
  if (s.deleting) {
    const r = s.removal ?? { total: 0, done: 0 };
    return { type: 'Ready', status: 'False', reason: Reason.Removing, message: `the policy is being deleted: its configuration comes off ${r.total} node(s), ${r.done} done` };
  }
  if (s.target === 0) {
    const r = s.removal;
    const left = r && r.done < r.total ? `; its configuration comes off the ${r.total} node(s) that carried it, ${r.done} done` : '';
    return { type: 'Ready', status: 'False', reason: Reason.NoTargetNodes, message: `${noTargetsMessage(s)}${left}` };
  }
  if (s.complete) {
    const failed = s.failed > 0 ? `; ${s.failed} failed, within maxFailures ${s.maxFailures} (${list(s.failures.map((f) => f.node))})` : '';
    return { type: 'Ready', status: 'True', reason: Reason.RolloutComplete, message: `${progress}${s.unsupported ? `, ${s.unsupported} unsupported` : ''}${failed}` };
  }
  const reason = s.halted ? Reason.RolloutHalted : s.blocked ? Reason.RolloutBlocked : s.paused ? Reason.RolloutPaused : Reason.RolloutInProgress;
  return { type: 'Ready', status: 'False', reason, message: progress };
}

export function desiredConditions(summary: RolloutSummary): Cond[] {
  // The same failures in another order say the same thing (and cause no status write).
  const byName = <T extends { node: string }>(a: T, b: T): number => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0);
  const s: Sorted = { ...summary, failures: [...summary.failures].sort(byName), drifted: [...(summary.drifted ?? [])].sort(byName) };
  if (s.invalid !== undefined && !s.deleting) {
    return [
      { type: 'Ready', status: 'False', reason: Reason.InvalidSpec, message: s.invalid },
      { type: 'Reconciling', status: 'False', reason: Reason.InvalidSpec, message: 'the spec must be fixed first' },
      { type: 'Stalled', status: 'True', reason: Reason.InvalidSpec, message: s.invalid },
      { type: 'Degraded', status: 'False', reason: Reason.NoFailures, message: '' },
      { type: 'Conflict', status: 'False', reason: Reason.NoConflict, message: '' },
    ];
  }
  const progress = `${s.updated}/${s.target} nodes updated`;
  const ready = readyCondition(s, progress);
  const removing = s.removal !== undefined && s.removal.done < s.removal.total;
  const idle = !s.deleting && (s.complete || (s.target === 0 && !removing));
  const stuck = !s.deleting && (s.halted || s.blocked);
  const reconciling: Cond = s.deleting
    ? { type: 'Reconciling', status: 'True', reason: Reason.Removing, message: ready.message }
    : idle || stuck || s.paused
      ? { type: 'Reconciling', status: 'False', reason: ready.reason, message: ready.message }
      : { type: 'Reconciling', status: 'True', reason: Reason.RolloutInProgress, message: s.target === 0 ? ready.message : progress };
  const stalled: Cond = s.deleting
    ? { type: 'Stalled', status: 'False', reason: Reason.AsExpected, message: '' }
    : s.halted
      ? { type: 'Stalled', status: 'True', reason: Reason.RolloutHalted, message: `rollout halted: ${s.failed} failed node(s) exceed maxFailures ${s.maxFailures} (${list(s.failures.map((f) => f.node))})` }
      : s.blocked
        ? { type: 'Stalled', status: 'True', reason: Reason.RolloutBlocked, message: 'rollout blocked: failed or not-Ready nodes use up maxUnavailable' }
        : { type: 'Stalled', status: 'False', reason: Reason.AsExpected, message: '' };
  const degraded = degradedCondition(s);
  const owners = byOwner(s.conflicts);
  const conflict: Cond = s.conflicts.length > 0
    ? {
        type: 'Conflict',
        status: 'True',
        reason: Reason.NodesOwnedByOtherPolicy,
        message: `${s.conflicts.length} selected node(s) owned by other policies: ${[...owners].sort().map(([o, nodes]) => `${list(nodes)} owned by ${o}`).join('; ')}`,
      }
    : { type: 'Conflict', status: 'False', reason: Reason.NoConflict, message: '' };
  return [ready, reconciling, stalled, degraded, conflict];
}

/** The first STATUS_LIST_MAX by node name: the same nodes in another order are the same list,
 *  so a reordering never causes a status write. */
function firstByNode<T extends { node: string }>(items: T[]): T[] {
  return [...items].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)).slice(0, STATUS_LIST_MAX);
}

function oneLine(s: string): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > STATUS_MESSAGE_MAX ? `${one.slice(0, STATUS_MESSAGE_MAX - 1)}…` : one;
}

/** The named lists of a status. Always present (empty when none): a JSON merge patch leaves out
 *  an absent field instead of clearing it. */
function statusLists(s: RolloutSummary): Pick<NodeTracingPolicyStatus, 'failures' | 'drifted' | 'unsupported' | 'conflicts'> {
  return {
    failures: firstByNode(s.failures).map((f) => ({ node: f.node, reason: f.why, ...(f.message ? { message: oneLine(f.message) } : {}) })),
    drifted: firstByNode(s.drifted ?? []).map((d) => ({ node: d.node, message: oneLine(d.message) })),
    unsupported: firstByNode(s.unsupportedNodes ?? []).map((u) => ({ ...u, message: oneLine(u.message) })),
    conflicts: firstByNode(s.conflicts).map((c) => ({ node: c.node, ownedBy: c.owner })),
  };
}

export function buildStatus(prev: NodeTracingPolicyStatus | undefined, s: RolloutSummary, now: Date): NodeTracingPolicyStatus {
  const before = new Map((prev?.conditions ?? []).map((c) => [c.type, c]));
  const conditions: Condition[] = desiredConditions(s).map((c) => {
    const old = before.get(c.type);
    const sameStatus = old?.status === c.status;
    return {
      ...c,
      observedGeneration: s.generation,
      lastTransitionTime: sameStatus && old ? old.lastTransitionTime : now.toISOString(),
    };
  });
  return {
    observedGeneration: s.generation,
    configHash: s.configHash,
    targetNodes: s.target,
    updatedNodes: s.updated,
    failedNodes: s.failed,
    unsupportedNodes: s.unsupported,
    conflictingNodes: s.conflicts.length,
    driftedNodes: s.drifted?.length ?? 0,
    ...statusLists(s),
    conditions,
  };
}

/** Conditions whose status or reason changed: one Event each. */
export function transitions(prev: NodeTracingPolicyStatus | undefined, next: NodeTracingPolicyStatus): Condition[] {
  const before = new Map((prev?.conditions ?? []).map((c) => [c.type, c]));
  return (next.conditions ?? []).filter((c) => {
    const old = before.get(c.type);
    return !old || old.status !== c.status || old.reason !== c.reason;
  });
}

/** Status equality for skipping no-op writes (times are kept, so equal content is equal JSON). */
export function sameStatus(a: NodeTracingPolicyStatus | undefined, b: NodeTracingPolicyStatus): boolean {
  return canonicalJson(a ?? {}) === canonicalJson(b);
}
