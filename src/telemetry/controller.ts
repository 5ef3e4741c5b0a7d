// The controller's telemetry: one trace per rollout, reconcile/plan/API-write spans, metrics.
//
// A rollout is (policy, intent hash). Its ROOT span `rollout <policy>` starts when its first node
// is released; its traceparent rides to the agents on the Node annotation, so every node's
// `apply <node>` span is its child. Reconciles of a policy with an open rollout are children of
// that root too: the one trace shows who released which node when, and what each node did. The
// root ends when the rollout completes, halts or is superseded by a new hash: at most one open
// root per policy, so memory stays bounded.
import { randomUUID } from 'node:crypto';
import { type Attributes, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { REMOVED_HASH } from '../api/annotations.js';
import type { Controller } from '../controller/controller.js';
import type { ControllerHooks, RolloutOwner } from '../controller/hooks.js';
import type { Plan } from '../controller/planner.js';
import { TerminalError, type Result } from '../controller/result.js';
import type { RolloutSummary } from '../controller/status.js';
import type { WriteObserver } from '../kube/writer.js';
import { intentHash } from '../render/render.js';
import { controllerMetrics, type ControllerMetrics, forgetPolicy, recordPlan, type Registry } from './metrics.js';
import type { Tracing } from './tracing.js';

interface OpenRollout {
  key: string;
  span: Span;
  traceparent: string | undefined;
}

export type RolloutOutcome = 'complete' | 'superseded' | 'halted' | 'interrupted';

/** The hooks telemetry fills in: all of them but the bench's onNodeEvent (queueObserver only with metrics). */
export type TelemetryHooks = Pick<ControllerHooks, 'queueObserver'> &
  Required<Pick<ControllerHooks, 'traceparent' | 'onPlan' | 'onPolicyGone' | 'onWrite' | 'wrapReconcile' | 'wrapPlan' | 'onRelist'>>;

export class ControllerTelemetry {
  readonly metrics: ControllerMetrics | undefined;
  private readonly open = new Map<string, OpenRollout>();
  /** Trace ids of the rollouts started, per policy, latest last (bounded: the demo prints it). */
  private readonly traceIds = new Map<string, string>();
  /** Policies found gone during the reconcile now running: their series go once it is counted. */
  private readonly gone = new Set<string>();

  constructor(
    readonly tracing: Tracing,
    registry?: Registry,
  ) {
    this.metrics = registry ? controllerMetrics(registry) : undefined;
  }

  /** The controller's hooks; `onPlan` here also forwards to `next`. */
  hooks(next?: ControllerHooks['onPlan']): TelemetryHooks {
    return {
      traceparent: (policy, hash) => this.traceparent(policy, hash),
      onPlan: (policy, plan, summary) => {
        this.onPlan(policy, plan, summary);
        next?.(policy, plan, summary);
      },
      onPolicyGone: (policy) => this.policyGone(policy),
      onWrite: this.onWrite,
      wrapReconcile: (info, fn) => this.wrapReconcile(info, fn),
      wrapPlan: (fn) => this.wrapPlan(fn),
      onRelist: (resource, reason) => this.metrics?.informerRelists.inc({ resource, reason }),
      ...(this.metrics ? { queueObserver: this.metrics.queue } : {}),
    };
  }

  /** The scrape-time metrics (kto_leader, kto_policy_condition, workqueue gauges) read `c`. */
  observe(c: Pick<Controller, 'isLeader' | 'queueStats' | 'policyCache'>): void {
    if (!this.metrics) return;
    this.metrics.source = { leader: () => c.isLeader(), queue: () => c.queueStats(), policies: () => c.policyCache() };
  }

  /** Trace id of the latest rollout of `policy` (tracing on and a node released). */
  rolloutTraceId(policy: string): string | undefined {
    return this.traceIds.get(policy);
  }

  /** W3C traceparent of the rollout's root span, creating the span on first use. */
  traceparent(policy: RolloutOwner, hash: string): string | undefined {
    if (!this.tracing.enabled) return undefined;
    const name = policy.metadata.name ?? '';
    // Per-node hashes differ by kubelet version; the rollout is the policy's intent.
    const key = hash === REMOVED_HASH || policy.spec === undefined ? REMOVED_HASH : intentHash(policy.spec);
    const current = this.open.get(name);
    if (current?.key === key) return current.traceparent;
    if (current) this.end(name, 'superseded');

    const span = this.tracing.tracer.startSpan(`rollout ${name}`, {
      root: true,
      attributes: {
        'kto.policy': name,
        'kto.config_hash': key,
        'kto.generation': policy.metadata.generation ?? 0,
        'kto.removal': key === REMOVED_HASH,
      },
    });
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
    this.open.set(name, { key, span, traceparent: carrier.traceparent });
    this.traceIds.set(name, span.spanContext().traceId);
    // The reconcile that started the rollout is not inside its trace (it began first): link it.
    trace.getActiveSpan()?.addLink({ context: span.spanContext() });
    return carrier.traceparent;
  }

  onPlan(policy: string, plan: Plan, summary: RolloutSummary): void {
    if (this.metrics) recordPlan(this.metrics, policy, plan, summary);
    trace.getActiveSpan()?.setAttributes({
      'kto.target': summary.target,
      'kto.updated': summary.updated,
      'kto.failed': summary.failed,
      'kto.complete': summary.complete,
    });
    const r = this.open.get(policy);
    if (!r) return;
    const key = summary.deleting ? REMOVED_HASH : summary.configHash;
    r.span.setAttributes({ 'kto.target': summary.target, 'kto.updated': summary.updated, 'kto.failed': summary.failed });
    if (summary.complete || (summary.deleting && plan.complete)) this.end(policy, r.key === key ? 'complete' : 'superseded');
    else if (summary.halted && r.key === key) this.end(policy, 'halted');
  }

  /** A policy and everything of it left the cluster: its series and its open rollout go. */
  policyGone(policy: string): void {
    this.end(policy, 'complete');
    this.traceIds.delete(policy);
    this.gone.add(policy);
    if (this.metrics) forgetPolicy(this.metrics, policy);
  }

  /** kto_api_writes_total, and a span for the write under the active reconcile span. */
  readonly onWrite: WriteObserver = (w) => {
    this.metrics?.apiWrites.inc({ verb: w.verb, resource: w.resource, code: String(w.code) });
    if (!this.tracing.enabled) return;
    const end = Date.now();
    const span = this.tracing.tracer.startSpan(`${w.verb} ${w.resource}`, {
      kind: SpanKind.CLIENT,
      startTime: end - w.ms,
      attributes: { 'http.request.method': w.verb === 'create' ? 'POST' : 'PATCH', ...writeAttributes(w) },
    });
    if (!w.ok) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end(end);
  };

  /** Runs one reconcile in its span (a child of the policy's open rollout, if any) and counts it. */
  async wrapReconcile(info: { policy: string; generation?: number }, fn: () => Promise<Result>): Promise<Result> {
    const parent = this.open.get(info.policy);
    const parentCtx = parent ? trace.setSpan(ROOT_CONTEXT, parent.span) : ROOT_CONTEXT;
    const started = performance.now();
    return this.tracing.tracer.startActiveSpan(
      'reconcile',
      { attributes: { 'kto.policy': info.policy, 'kto.generation': info.generation ?? 0, 'kto.reconcile_id': randomUUID() } },
      parentCtx,
      async (span) => {
        let result: string = 'error';
        try {
          const out = await fn();
          const requeue = out ? out.requeueAfterMs : undefined;
          result = requeue !== undefined ? 'requeue' : 'success';
          if (requeue !== undefined) span.setAttribute('kto.requeue_ms', requeue);
          return out;
        } catch (err: unknown) {
          result = err instanceof TerminalError ? 'terminal' : 'error';
          this.metrics?.reconcileErrors.inc();
          span.recordException(err instanceof Error ? err : String(err));
          span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
          throw err;
        } finally {
          span.setAttribute('kto.result', result);
          span.end();
          this.metrics?.reconciles.inc({ policy: info.policy, result });
          this.metrics?.reconcileDuration.observe((performance.now() - started) / 1000);
          // The run that found the policy gone was counted just now: drop that series too.
          if (this.gone.delete(info.policy) && this.metrics) forgetPolicy(this.metrics, info.policy);
        }
      },
    );
  }

  /** The `plan` span: deciding which nodes move now. */
  wrapPlan(fn: () => Plan): Plan {
    if (!this.tracing.enabled) return fn();
    return this.tracing.tracer.startActiveSpan('plan', (span) => {
      try {
        const plan = fn();
        span.setAttributes({
          'kto.release': plan.release.length,
          'kto.in_progress': plan.inProgress,
          'kto.pending': plan.pending,
          'kto.max_unavailable': plan.maxUnavailable,
          'kto.complete': plan.complete,
        });
        return plan;
      } finally {
        span.end();
      }
    });
  }

  /** Ends every open rollout span (shutdown), so they are exported. */
  endAll(outcome: RolloutOutcome = 'interrupted'): void {
    for (const name of [...this.open.keys()]) this.end(name, outcome);
  }

  private end(policy: string, outcome: RolloutOutcome): void {
    const r = this.open.get(policy);
    if (!r) return;
    this.open.delete(policy);
    r.span.setAttribute('kto.rollout.outcome', outcome);
    if (outcome === 'halted') r.span.setStatus({ code: SpanStatusCode.ERROR, message: 'rollout halted: too many failed nodes' });
    r.span.end();
  }
}

/**
 * The object a write touched, in semantic-convention names where they exist (k8s.node.name) and
 * ours where they do not (the k8s.* namespace is reserved for the conventions). No response
 * (code 0): error.type instead of a status code, as the HTTP conventions ask.
 */
function writeAttributes(w: Parameters<WriteObserver>[0]): Attributes {
  const object: Attributes = w.resource === 'nodes' ? { 'k8s.node.name': w.name } : w.resource.startsWith('nodetracingpolicies') ? { 'kto.policy': w.name } : { 'kto.object.name': w.name };
  const outcome: Attributes = w.code === 0 ? { 'error.type': 'no_response' } : { 'http.response.status_code': w.code, ...(w.ok ? {} : { 'error.type': String(w.code) }) };
  return { 'kto.api.resource': w.resource, ...object, ...outcome };
}

/** Readiness of the controller: caches synced and listable, and the leadership state known. */
export function controllerReadiness(s: { synced: boolean; leader: boolean; holder?: string; identity?: string; leaderElection: boolean; problem?: string }): { ok: boolean; reason?: string } {
  if (!s.synced) return { ok: false, reason: s.problem ?? 'informer caches not synced yet' };
  // A cache that cannot be listed (the CRD deleted, RBAC taken away) leaves the controller blind.
  if (s.problem !== undefined) return { ok: false, reason: s.problem };
  if (s.leader) return { ok: true };
  if (!s.leaderElection) return { ok: false, reason: 'not acting yet' };
  if (s.holder !== undefined && s.holder !== '' && s.holder === s.identity) {
    return { ok: false, reason: 'lost the Lease it held (renewal failed); trying to get it back or to see another leader' };
  }
  if (s.holder !== undefined && s.holder !== '') return { ok: true, reason: `standby; leader is ${s.holder}` };
  return { ok: false, reason: 'leader unknown: no Lease holder observed yet' };
}

