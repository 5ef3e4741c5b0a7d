// Prometheus metrics (prom-client); docs/metrics.md lists every one, and a test holds it to what
// the processes expose. Nothing here touches prom-client's global default registry: each process
// (or test, or the demo, which runs the controller and every agent in one process) passes its
// own Registry, and asking twice for the same group on one Registry returns the same instances
// instead of failing with "already registered".
// The work-queue metrics carry controller-runtime's names and labels, so the dashboards and
// alerts written for Kubernetes controllers work on this one unchanged.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Condition } from '../api/types.js';
import type { Plan } from '../controller/planner.js';
import type { QueueObserver, QueueStats } from '../controller/queue.js';
import type { RolloutSummary } from '../controller/status.js';
import { VERSION } from '../version.js';

export { Registry };

/** The `name` (and `controller`) label of the workqueue_* series: controller-runtime's
 *  convention is the controller's name, the kind it reconciles in lower case. */
export const QUEUE_NAME = 'nodetracingpolicy';

/** What the scrape-time gauges read: the controller is their source of truth. */
export interface ControllerSource {
  leader(): boolean;
  queue(): QueueStats;
  /** The policies cached (their conditions are reported while leading). */
  policies(): readonly { metadata: { name?: string }; status?: { conditions?: Condition[] } }[];
}

const NO_QUEUE: QueueStats = { depth: 0, unfinishedSeconds: 0, longestRunningSeconds: 0 };

export const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;

export const NODE_PHASES = ['Updated', 'Soaking', 'InProgress', 'Failed', 'Pending', 'Drifted', 'Unsupported'] as const;

export interface SpanMetrics {
  exported: Counter;
  exportFailed: Counter;
  dropped: Counter;
}

export interface ControllerMetrics {
  reconciles: Counter<'policy' | 'result'>;
  reconcileErrors: Counter;
  reconcileDuration: Histogram;
  policyNodes: Gauge<'policy' | 'phase'>;
  rolloutProgress: Gauge<'policy'>;
  driftedNodes: Gauge<'policy'>;
  apiWrites: Counter<'verb' | 'resource' | 'code'>;
  informerRelists: Counter<'resource' | 'reason'>;
  /** Feeds workqueue_adds_total, _retries_total, _queue_duration_seconds, _work_duration_seconds. */
  queue: QueueObserver;
  /** Read at scrape time by kto_leader, kto_policy_condition and the workqueue gauges; a
   *  standby also drops the per-policy gauges (they would go stale: the leader reports them). */
  source: ControllerSource | undefined;
}

export interface AgentMetrics {
  drifts: Counter;
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
    function dropUnlessLeading(this: Gauge): void {
      if (m.source?.leader() === false) this.reset();
    }
    const m: ControllerMetrics = {
      source: undefined,
      queue: workqueueMetrics(registry, () => m.source?.queue() ?? NO_QUEUE),
      reconciles: new Counter({ name: 'kto_reconcile_total', help: 'Reconcile runs by policy and result.', labelNames: ['policy', 'result'] as const, registers: [registry] }),
      reconcileErrors: new Counter({ name: 'kto_reconcile_errors_total', help: 'Reconcile runs that failed (retried or terminal).', registers: [registry] }),
      reconcileDuration: new Histogram({
        name: 'kto_reconcile_duration_seconds',
        help: 'Wall time of one reconcile run.',
        buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      }),
      policyNodes: new Gauge({ name: 'kto_policy_nodes', help: 'Nodes of a policy by rollout phase. Reported by the leader.', labelNames: ['policy', 'phase'] as const, registers: [registry], collect: dropUnlessLeading }),
      driftedNodes: new Gauge({ name: 'kto_drifted_nodes', help: 'Target nodes of a policy whose configuration drifted from what was rolled out to them, not (yet) repaired. Reported by the leader.', labelNames: ['policy'] as const, registers: [registry], collect: dropUnlessLeading }),
      rolloutProgress: new Gauge({ name: 'kto_rollout_progress_ratio', help: 'Updated / target nodes of the policy (1 when it targets none). Reported by the leader.', labelNames: ['policy'] as const, registers: [registry], collect: dropUnlessLeading }),
      apiWrites: new Counter({ name: 'kto_api_writes_total', help: 'Writes to the API server by verb, resource and HTTP status (0: no response).', labelNames: ['verb', 'resource', 'code'] as const, registers: [registry] }),
      informerRelists: new Counter({
        name: 'kto_informer_relists_total',
        help: 'Lists an informer made after its first, by resource and why (the watch closed or failed, 410 Gone, or the server history is not the cached one).',
        labelNames: ['resource', 'reason'] as const,
        registers: [registry],
      }),
    };
    new Gauge({
      name: 'kto_leader',
      help: 'Whether this replica acts: 1 while it holds the leader Lease (or runs without leader election), else 0.',
      registers: [registry],
      collect() {
        this.set(m.source?.leader() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'kto_policy_condition',
      help: "A NodeTracingPolicy's status conditions, as kube-state-metrics reports conditions: 1 for the condition's status, 0 for the others. Reported by the leader.",
      labelNames: ['policy', 'type', 'status'] as const,
      registers: [registry],
      collect() {
        // Rebuilt from the cache at every scrape: a deleted policy's series go with it.
        this.reset();
        // The leader's: every replica has the policies cached, and one series per policy is
        // what an alert should count.
        if (!m.source?.leader()) return;
        for (const p of m.source.policies()) {
          const policy = p.metadata.name ?? '';
          for (const c of p.status?.conditions ?? []) {
            for (const status of CONDITION_STATUSES) this.set({ policy, type: c.type, status }, c.status === status ? 1 : 0);
          }
        }
      },
    });
    return m;
  });
}

/** controller-runtime's workqueue metrics (its names, help and buckets; `priority` is left out
 *  of workqueue_depth: this queue has none). */
function workqueueMetrics(registry: Registry, stats: () => QueueStats): QueueObserver {
  const labelNames = ['name', 'controller'] as const;
  const labels = { name: QUEUE_NAME, controller: QUEUE_NAME };
  // prometheus.ExponentialBuckets(10e-9, 10, 12): 10 ns .. 1000 s.
  const buckets = Array.from({ length: 12 }, (_, i) => Number((1e-8 * 10 ** i).toPrecision(1)));
  const gauge = (name: string, help: string, read: (s: QueueStats) => number): Gauge<'name' | 'controller'> =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.set(labels, read(stats()));
      },
    });
  gauge('workqueue_depth', 'Current depth of workqueue', (s) => s.depth);
  gauge('workqueue_unfinished_work_seconds', "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.", (s) => s.unfinishedSeconds);
  gauge('workqueue_longest_running_processor_seconds', 'How many seconds has the longest running processor for workqueue been running.', (s) => s.longestRunningSeconds);
  const adds = new Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames, registers: [registry] });
  const retries = new Counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames, registers: [registry] });
  const latency = new Histogram({ name: 'workqueue_queue_duration_seconds', help: 'How long in seconds an item stays in workqueue before being requested', labelNames, buckets, registers: [registry] });
  const work = new Histogram({ name: 'workqueue_work_duration_seconds', help: 'How long in seconds processing an item from workqueue takes.', labelNames, buckets, registers: [registry] });
  // Zero from the start (as client-go's are), so rate() and increase() see the first add.
  adds.inc(labels, 0);
  retries.inc(labels, 0);
  return {
    added: () => adds.inc(labels),
    retried: () => retries.inc(labels),
    waited: (s) => latency.observe(labels, s),
    worked: (s) => work.observe(labels, s),
  };
}

/** kto_build_info: which version runs where, as every Prometheus exporter reports it. */
export function buildInfo(registry: Registry): void {
  if (registry.getSingleMetric('kto_build_info')) return;
  new Gauge({
    name: 'kto_build_info',
    help: 'Always 1; the labels say which kto version runs, on which Node.js.',
    labelNames: ['version', 'node_version'] as const,
    registers: [registry],
  }).set({ version: VERSION, node_version: process.version }, 1);
}

/** One registry per process (never prom-client's global one), with the process metrics and
 *  kto_build_info. */
export function processRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  buildInfo(registry);
  return registry;
}

export function agentMetrics(registry: Registry): AgentMetrics {
  return memo(agentCache, registry, () => ({
    drifts: new Counter({ name: 'kto_node_drifts_total', help: 'Drifts the agent found and reported: what it applied is no longer what its node holds.', registers: [registry] }),
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
  // The plan's own counts: walking its phases would cost a pass over every node per reconcile.
  const counts: Record<(typeof NODE_PHASES)[number], number> = {
    Updated: plan.updated, Soaking: plan.soaking, InProgress: plan.inProgress, Failed: plan.failed, Pending: plan.pending, Drifted: plan.drifted,
    Unsupported: summary.unsupported,
  };
  for (const phase of NODE_PHASES) m.policyNodes.set({ policy, phase }, counts[phase]);
  m.driftedNodes.set({ policy }, summary.drifted?.length ?? 0);
  m.rolloutProgress.set({ policy }, summary.target === 0 ? 1 : summary.updated / summary.target);
}

/** The reconcile results kto_reconcile_total counts. */
export const RECONCILE_RESULTS = ['success', 'requeue', 'error', 'terminal'] as const;

/** Drops every series labelled with `policy` (it is gone: a series that stays would report a
 *  policy that no longer exists, and series of deleted policies would pile up). */
export function forgetPolicy(m: ControllerMetrics, policy: string): void {
  for (const phase of NODE_PHASES) m.policyNodes.remove({ policy, phase });
  m.rolloutProgress.remove({ policy });
  m.driftedNodes.remove({ policy });
  for (const result of RECONCILE_RESULTS) m.reconciles.remove({ policy, result });
}
