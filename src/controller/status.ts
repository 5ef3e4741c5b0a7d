// Status: pure. A rollout summary -> kstatus-compatible status (observedGeneration + metav1
// Conditions). lastTransitionTime moves only when a condition's status changes, and the
// transitions are what the controller turns into Events.
import type { Condition, NodeTracingPolicyStatus } from '../api/types.js';
import { canonicalJson } from '../render/hash.js';

export const Reason = {
  RolloutComplete: 'RolloutComplete',
  RolloutInProgress: 'RolloutInProgress',
  RolloutPaused: 'RolloutPaused',
  RolloutHalted: 'RolloutHalted',
  RolloutBlocked: 'RolloutBlocked',
  NodesFailed: 'NodesFailed',
  NoFailures: 'NoFailures',
  InvalidSpec: 'InvalidSpec',
  NodesOwnedByOtherPolicy: 'NodesOwnedByOtherPolicy',
  NoConflict: 'NoConflict',
  Removing: 'RemovingConfiguration',
  AsExpected: 'AsExpected',
} as const;

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
  complete: boolean;
  deleting: boolean;
  failedNodes: string[];
  conflictNodes: string[];
  /** Set when the spec failed validation: nothing else is meaningful then. */
  invalid?: string;
}

type Cond = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

function list(names: string[], max = 5): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

export function desiredConditions(s: RolloutSummary): Cond[] {
  if (s.invalid !== undefined) {
    return [
      { type: 'Ready', status: 'False', reason: Reason.InvalidSpec, message: s.invalid },
      { type: 'Reconciling', status: 'False', reason: Reason.InvalidSpec, message: 'the spec must be fixed first' },
      { type: 'Stalled', status: 'True', reason: Reason.InvalidSpec, message: s.invalid },
      { type: 'Degraded', status: 'False', reason: Reason.NoFailures, message: '' },
      { type: 'Conflict', status: 'False', reason: Reason.NoConflict, message: '' },
    ];
  }
  const progress = `${s.updated}/${s.target} nodes updated`;
  const ready: Cond = s.complete
    ? { type: 'Ready', status: 'True', reason: Reason.RolloutComplete, message: `${progress}${s.unsupported ? `, ${s.unsupported} unsupported` : ''}` }
    : {
        type: 'Ready',
        status: 'False',
        reason: s.deleting ? Reason.Removing : s.halted ? Reason.RolloutHalted : s.blocked ? Reason.RolloutBlocked : s.paused ? Reason.RolloutPaused : Reason.RolloutInProgress,
        message: progress,
      };
  const reconciling: Cond =
    s.complete || s.halted || s.blocked || s.paused
      ? { type: 'Reconciling', status: 'False', reason: s.complete ? Reason.RolloutComplete : s.halted ? Reason.RolloutHalted : s.blocked ? Reason.RolloutBlocked : Reason.RolloutPaused, message: progress }
      : { type: 'Reconciling', status: 'True', reason: s.deleting ? Reason.Removing : Reason.RolloutInProgress, message: progress };
  const stalled: Cond = s.halted
    ? { type: 'Stalled', status: 'True', reason: Reason.RolloutHalted, message: `rollout halted: ${s.failed} failed node(s) exceed maxFailures (${list(s.failedNodes)})` }
    : s.blocked
      ? { type: 'Stalled', status: 'True', reason: Reason.RolloutBlocked, message: 'rollout blocked: failed or not-Ready nodes use up maxUnavailable' }
      : { type: 'Stalled', status: 'False', reason: Reason.AsExpected, message: '' };
  const degraded: Cond = s.failed > 0
    ? { type: 'Degraded', status: 'True', reason: Reason.NodesFailed, message: `failed and rolled back: ${list(s.failedNodes)}` }
    : { type: 'Degraded', status: 'False', reason: Reason.NoFailures, message: '' };
  const conflict: Cond = s.conflictNodes.length > 0
    ? { type: 'Conflict', status: 'True', reason: Reason.NodesOwnedByOtherPolicy, message: `nodes owned by a higher-priority policy: ${list(s.conflictNodes)}` }
    : { type: 'Conflict', status: 'False', reason: Reason.NoConflict, message: '' };
  return [ready, reconciling, stalled, degraded, conflict];
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
