// The controller's view of a Node: only the fields it uses, so 5,000 nodes cost little memory.
import { ANNOTATION_PREFIX } from '../api/annotations.js';
import { decode, policyOf } from '../api/handoff.js';
import { nodeOrderKey, type PlanNode } from './planner.js';

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

/** Each cached node's plan view, for the last target hash asked. A reconcile reads every node of
 *  its policy, and most did not change since the last one: the informer replaces a node's object
 *  on every change, so a view is made (its annotations decoded) once per version of the node. */
const views = new WeakMap<CachedNode, PlanNode>();

/** Release order keys by uid and hash: a node's key outlives its versions. */
const orderKeys = new Map<string, string>();
const ORDER_KEYS_MAX = 100_000;

function orderKeyOf(uid: string, hash: string): string {
  const id = `${uid}:${hash}`;
  let k = orderKeys.get(id);
  if (k === undefined) {
    if (orderKeys.size >= ORDER_KEYS_MAX) orderKeys.clear();
    k = nodeOrderKey(uid, hash);
    orderKeys.set(id, k);
  }
  return k;
}

/** The planner's view of a cached node. The same object comes back for the same node object and
 *  hash: callers must not change it (they copy to overlay, as the reconciler's expectations do). */
export function toPlanNode(n: CachedNode, targetHash: string): PlanNode {
  const seen = views.get(n);
  if (seen?.targetHash === targetHash) return seen;
  const view: PlanNode = seen ? { ...seen, targetHash, orderKey: orderKeyOf(n.uid, targetHash) } : newPlanNode(n, targetHash);
  views.set(n, view);
  return view;
}

function newPlanNode(n: CachedNode, targetHash: string): PlanNode {
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
    orderKey: orderKeyOf(n.uid, targetHash),
    ...(h.message !== undefined ? { message: h.message } : {}),
    ...(h.repair ? { repairOfMs: h.repairOfMs } : {}),
  };
}

export function ownerOf(n: CachedNode): string | undefined {
  return policyOf(n.ours);
}
