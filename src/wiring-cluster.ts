// The embedded cluster with its agents hooked to their telemetry and logger: Stack (wiring.ts)
// starts it so, and so does `kto sim`, which loads neither the controller nor (with its agents in
// a worker thread) client-node.
import type { Logger } from './log.js';
import { SimCluster, type SimClusterOptions } from './sim/cluster.js';
import { AgentTelemetry } from './telemetry/agent.js';
import type { Registry } from './telemetry/metrics.js';
import { startTracing, type TracingOptions } from './telemetry/tracing.js';

/** OTLP export (no endpoint and no OTEL_* variable: tracing off) and where metrics are counted. */
export type TelemetryOptions = Pick<TracingOptions, 'endpoint' | 'protocol' | 'queue' | 'warn'> & { registry: Registry };

export function agentTelemetry(o: TelemetryOptions): AgentTelemetry {
  return new AgentTelemetry(startTracing({ service: 'kubelet-tracing-agent', ...o }), o.registry);
}

/** Starts the cluster; the agents of this thread log to `log` and report to `telemetry`. */
export function startHookedCluster(o: SimClusterOptions, telemetry: AgentTelemetry, log: Logger | undefined): Promise<SimCluster> {
  // Agents in a worker thread log there, and the hooks (functions) cannot reach them.
  const inProcess = o.agentThread === undefined ? { ...(log ? { agentLog: log } : {}), agentHooks: (node: string) => telemetry.hooks(node) } : {};
  return SimCluster.start({ ...o, ...inProcess });
}
