// The controller's view of a Node: only the fields it uses, so 5,000 nodes cost little memory.
import { ANNOTATION_PREFIX } from '../api/annotations.js';
import { decode, policyOf } from '../api/handoff.js';
import type { PlanNode } from './planner.js';

export interface CachedNode {
  name: string;
  uid: string;
  labels: Record<string, string>;
  /** Only the annotations under our prefix. */
  ours: Record<string, string>;
  kubeletVersion: string;
  ready: boolean;
}

interface NodeLike {
  metadata?: { name?: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  status?: { nodeInfo?: { kubeletVersion?: string }; conditions?: Array<{ type?: string; status?: string }> };
}

export function trimNode(node: NodeLike): CachedNode {
  const ours: Record<string, string> = {};
  for (const [k, v] of Object.entries(node.metadata?.annotations ?? {})) {
    if (k.startsWith(ANNOTATION_PREFIX)) ours[k] = v;
  }
  const ready = (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
  return {
    name: node.metadata?.name ?? '',
    uid: node.metadata?.uid ?? '',
    labels: { ...(node.metadata?.labels ?? {}) },
    ours,
    kubeletVersion: node.status?.nodeInfo?.kubeletVersion ?? '',
    ready,
  };
}

export function toPlanNode(n: CachedNode, targetHash: string): PlanNode {
  const h = decode(n.ours);
  return {
    name: n.name,
    uid: n.uid,
    ready: n.ready,
    desiredHash: h.desiredHash,
    desiredTimeMs: h.desiredTimeMs,
    state: h.state,
    stateHash: h.stateHash,
    stateTimeMs: h.stateTimeMs,
    appliedHash: h.appliedHash,
    targetHash,
    ...(h.message !== undefined ? { message: h.message } : {}),
    ...(h.repair ? { repairOfMs: h.repairOfMs } : {}),
  };
}

export function ownerOf(n: CachedNode): string | undefined {
  return policyOf(n.ours);
}
