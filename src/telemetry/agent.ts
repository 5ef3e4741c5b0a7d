// The agent's telemetry: `apply <node>` continues the rollout trace from the traceparent the
// controller left on the Node, with one child span per phase (write, restart, health, rollback),
// and the restart / rollback / apply-duration / drift metrics.
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { RunAgentOptions } from '../agent/agent.js';
import type { PhaseHook } from '../agent/apply.js';
import { agentMetrics, type AgentMetrics, type Registry } from './metrics.js';
import type { Tracing } from './tracing.js';

export type AgentHooks = Required<Pick<RunAgentOptions, 'wrapApply' | 'onPhase' | 'onDrift'>>;

export class AgentTelemetry {
  readonly metrics: AgentMetrics | undefined;

  constructor(
    readonly tracing: Tracing,
    registry?: Registry,
  ) {
    this.metrics = registry ? agentMetrics(registry) : undefined;
  }

  /** runAgent hooks for one node. */
  hooks(node: string): AgentHooks {
    const { tracer } = this.tracing;
    const m = this.metrics;

    const wrapApply: AgentHooks['wrapApply'] = (ctx, fn) => {
      const parent = ctx.traceparent !== undefined ? propagation.extract(ROOT_CONTEXT, { traceparent: ctx.traceparent }) : ROOT_CONTEXT;
      const attributes = { 'k8s.node.name': node, 'kto.config_hash': ctx.hash };
      return tracer.startActiveSpan(`apply ${node}`, { kind: SpanKind.CONSUMER, attributes }, parent, async (span) => {
        try {
          const result = await fn();
          span.setAttributes({ 'kto.state': result.state, 'kto.restarted': result.restarted });
          if (result.state !== 'Applied') span.setStatus({ code: SpanStatusCode.ERROR, message: result.message ?? result.state });
          m?.applyDuration.observe({ state: result.state }, result.durationMs / 1000);
          return result;
        } finally {
          span.end();
        }
      });
    };

    const onPhase: PhaseHook = (phase, fn) => {
      if (phase === 'restart') m?.restarts.inc();
      if (phase === 'rollback') m?.rollbacks.inc();
      return tracer.startActiveSpan(phase, { attributes: { 'k8s.node.name': node } }, async (span) => {
        try {
          const out = await fn();
          // health resolves false when the kubelet did not come back in time
          if (phase === 'health' && out === false) span.setStatus({ code: SpanStatusCode.ERROR, message: 'kubelet not healthy in time' });
          return out;
        } catch (err: unknown) {
          span.recordException(err instanceof Error ? err : String(err));
          span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
          throw err;
        } finally {
          span.end();
        }
      });
    };

    const onDrift: AgentHooks['onDrift'] = (message) => {
      if (message !== undefined) m?.drifts.inc();
    };

    return { wrapApply, onPhase, onDrift };
  }
}
