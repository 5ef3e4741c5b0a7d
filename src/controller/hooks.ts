// What the controller tells the outside (telemetry, the demo, benches) and lets it wrap. One
// object: ControllerOptions carries these hooks, and the Controller hands that same object to
// the Reconciler, so a hook is declared once and reaches its caller unchanged.
import type { NodeTracingPolicy } from '../api/types.js';
import type { RelistReason } from '../kube/informer.js';
import type { WriteObserver } from '../kube/writer.js';
import type { CachedNode } from './nodes.js';
import type { Plan } from './planner.js';
import type { QueueObserver } from './queue.js';
import type { Result } from './result.js';
import type { RolloutSummary } from './status.js';

/** Whose rollout a release belongs to: a policy, or what is left of one that was force-deleted
 *  (its name only) while its configuration comes off the nodes. */
export interface RolloutOwner {
  metadata: NodeTracingPolicy['metadata'];
  spec?: NodeTracingPolicy['spec'];
}

export interface ControllerHooks {
  /** W3C traceparent handed to the agents with each release of this rollout (telemetry). */
  traceparent?: (policy: RolloutOwner, hash: string) => string | undefined;
  /** Each reconcile's plan and summary (metrics, demo progress). */
  onPlan?: (policy: string, plan: Plan, summary: RolloutSummary) => void;
  /** A policy is gone and nothing of it is left on any node (telemetry drops its series). */
  onPolicyGone?: (policy: string) => void;
  /** Every API write, with its outcome (telemetry: spans, kto_api_writes_total). */
  onWrite?: WriteObserver;
  /** Wraps each reconcile run (telemetry: span, metrics). Must call fn and return its result. */
  wrapReconcile?: (info: { policy: string; generation?: number }, fn: () => Promise<Result>) => Promise<Result>;
  /** Wraps the planner call of each reconcile (telemetry: the `plan` span). Must call fn and
   *  return its result. */
  wrapPlan?: (fn: () => Plan) => Plan;
  /** Told what the work queue does (telemetry: the workqueue_* metrics). */
  queueObserver?: QueueObserver;
  /** An informer listed again (telemetry: kto_informer_relists_total). */
  onRelist?: (resource: 'nodetracingpolicies' | 'nodes', reason: RelistReason) => void;
  /** Told about every Node event as the cache takes it in (the bench times slot hand-overs). */
  onNodeEvent?: (n: CachedNode, old: CachedNode | undefined) => void;
}
