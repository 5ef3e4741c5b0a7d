// The controller's view of a Node: only the fields it uses, so 5,000 nodes cost little memory.
import {
  A_APPLIED_HASH, A_DESIRED_HASH, A_DESIRED_TIME, A_MESSAGE, A_POLICY, A_REPAIR, A_STATE, A_STATE_HASH, A_STATE_TIME,
  AGENT_STATES, ANNOTATION_PREFIX, type AgentState,
} from '../api/annotations.js';
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

function time(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

function agentState(v: string | undefined): AgentState | undefined {
  return AGENT_STATES.find((s) => s === v);
}

/** Each cached node's plan view, for the last target hash asked. A reconcile reads every node of
 *  its policy, and most did not change since the last one: the informer replaces a node's object
 *  on every change, so a view is made (its times parsed) once per version of the node. */
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
  const a = n.ours;
  const view: PlanNode = seen
    ? { ...seen, targetHash, orderKey: orderKeyOf(n.uid, targetHash) }
    : {
        name: n.name,
        uid: n.uid,
        ready: n.ready,
        desiredHash: a[A_DESIRED_HASH],
        desiredTimeMs: time(a[A_DESIRED_TIME]),
        state: agentState(a[A_STATE]),
        stateHash: a[A_STATE_HASH],
        stateTimeMs: time(a[A_STATE_TIME]),
        appliedHash: a[A_APPLIED_HASH],
        targetHash,
        orderKey: orderKeyOf(n.uid, targetHash),
        ...(a[A_MESSAGE] ? { message: a[A_MESSAGE] } : {}),
        ...(a[A_REPAIR] ? { repairOfMs: time(a[A_REPAIR]) } : {}),
      };
  views.set(n, view);
  return view;
}

export function ownerOf(n: CachedNode): string | undefined {
  return n.ours[A_POLICY];
}
