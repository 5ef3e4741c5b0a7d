// Prometheus metrics (prom-client). Nothing here touches prom-client's global default registry:
// each process (or test, or the demo, which runs the controller and every agent in one process)
// passes its own Registry, and asking twice for the same group on one Registry returns the same
// instances instead of failing with "already registered".
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Plan } from '../controller/planner.js';
import type { RolloutSummary } from '../controller/status.js';

export { Registry };

export const NODE_PHASES = ['Updated', 'Soaking', 'InProgress', 'Failed', 'Pending', 'Unsupported'] as const;

export interface SpanMetrics {
  exported: Counter;
  exportFailed: Counter;
  dropped: Counter;
}

export interface ControllerMetrics {
  reconciles: Counter<'policy' | 'result'>;
  reconcileErrors: Counter;
  reconcileDuration: Histogram;
  workqueueDepth: Gauge;
  policyNodes: Gauge<'policy' | 'phase'>;
  rolloutProgress: Gauge<'policy'>;
  apiWrites: Counter<'verb' | 'resource' | 'code'>;
  /** Where kto_workqueue_depth reads from at scrape time (the queue is the source of truth). */
  depth: { read: () => number };
}

export interface AgentMetrics {
  restarts: Counter;
  rollbacks: Counter;
  applyDuration: Histogram<'state'>;
}

function memo<T>(cache: WeakMap<Registry, T>, registry: Registry, make: () => T): T {
  let v = cache.get(registry);
  if (v === undefined) {
    v = make();
    cache.set(registry, v);
  }
  return v;
}

const spanCache = new WeakMap<Registry, SpanMetrics>();
const controllerCache = new WeakMap<Registry, ControllerMetrics>();
const agentCache = new WeakMap<Registry, AgentMetrics>();

/** KEP-2831 notes the kubelet exports spans without counting them; we count ours. */
export function spanMetrics(registry: Registry): SpanMetrics {
  return memo(spanCache, registry, () => ({
    exported: new Counter({ name: 'kto_spans_exported_total', help: 'Spans the OTLP exporter delivered to the collector.', registers: [registry] }),
    exportFailed: new Counter({ name: 'kto_spans_export_failed_total', help: 'Spans whose export failed (collector unreachable, rejected, timed out).', registers: [registry] }),
    dropped: new Counter({ name: 'kto_spans_dropped_total', help: 'Spans dropped before export because the bounded span queue was full.', registers: [registry] }),
  }));
}

export function controllerMetrics(registry: Registry): ControllerMetrics {
  return memo(controllerCache, registry, () => {
    const depth = { read: (): number => 0 };
    return {
      depth,
      reconciles: new Counter({ name: 'kto_reconcile_total', help: 'Reconcile runs by policy and result.', labelNames: ['policy', 'result'] as const, registers: [registry] }),
      reconcileErrors: new Counter({ name: 'kto_reconcile_errors_total', help: 'Reconcile runs that failed (retried or terminal).', registers: [registry] }),
      reconcileDuration: new Histogram({
        name: 'kto_reconcile_duration_seconds',
        help: 'Wall time of one reconcile run.',
        buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      }),
      workqueueDepth: new Gauge({
        name: 'kto_workqueue_depth',
        help: 'Policy keys waiting in the work queue.',
        registers: [registry],
        collect() {
          this.set(depth.read());
        },
      }),
      policyNodes: new Gauge({ name: 'kto_policy_nodes', help: "Nodes of a policy by rollout phase.", labelNames: ['policy', 'phase'] as const, registers: [registry] }),
      rolloutProgress: new Gauge({ name: 'kto_rollout_progress_ratio', help: 'Updated / target nodes of the policy (1 when it targets none).', labelNames: ['policy'] as const, registers: [registry] }),
      apiWrites: new Counter({ name: 'kto_api_writes_total', help: 'Writes to the API server by verb, resource and HTTP status (0: no response).', labelNames: ['verb', 'resource', 'code'] as const, registers: [registry] }),
    };
  });
}

export function agentMetrics(registry: Registry): AgentMetrics {
  return memo(agentCache, registry, () => ({
    restarts: new Counter({ name: 'kto_node_restarts_total', help: 'Kubelet restarts the agent performed to apply a config.', registers: [registry] }),
    rollbacks: new Counter({ name: 'kto_node_rollbacks_total', help: 'Applies the agent rolled back (kubelet not healthy on the new config).', registers: [registry] }),
    applyDuration: new Histogram({
      name: 'kto_agent_apply_duration_seconds',
      help: 'Wall time of one apply (write, restart, health, rollback), by outcome.',
      labelNames: ['state'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    }),
  }));
}

/** kto_policy_nodes and kto_rollout_progress_ratio from one reconcile's plan. */
export function recordPlan(m: ControllerMetrics, policy: string, plan: Plan, summary: RolloutSummary): void {
  const counts: Record<(typeof NODE_PHASES)[number], number> = { Updated: 0, Soaking: 0, InProgress: 0, Failed: 0, Pending: 0, Unsupported: summary.unsupported };
  for (const phase of Object.values(plan.phases)) counts[phase]++;
  for (const phase of NODE_PHASES) m.policyNodes.set({ policy, phase }, counts[phase]);
  m.rolloutProgress.set({ policy }, summary.target === 0 ? 1 : summary.updated / summary.target);
}

/** The reconcile results kto_reconcile_total counts. */
export const RECONCILE_RESULTS = ['success', 'requeue', 'error', 'terminal'] as const;

/** Drops every series labelled with `policy` (it is gone: a series that stays would report a
 *  policy that no longer exists, and series of deleted policies would pile up). */
export function forgetPolicy(m: ControllerMetrics, policy: string): void {
  for (const phase of NODE_PHASES) m.policyNodes.remove({ policy, phase });
  m.rolloutProgress.remove({ policy });
  for (const result of RECONCILE_RESULTS) m.reconciles.remove({ policy, result });
}
