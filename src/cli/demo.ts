// kto demo: the embedded cluster (`kto sim`) + the controller (`kto controller`) in one process,
// one policy applied through the API, live progress, a summary, and an optional JSON report.
import { writeFile } from 'node:fs/promises';
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, resolveRollout, VERSION, type NodeTracingPolicy } from '../api/types.js';
import { Controller } from '../controller/controller.js';
import { resolveMaxUnavailable } from '../controller/planner.js';
import { describeFailure, type RolloutSummary } from '../controller/status.js';
import { render } from '../render/render.js';
import { SimCluster } from '../sim/cluster.js';
import { OtlpReceiver, SpanTally } from '../sim/collector/index.js';
import { AgentTelemetry } from '../telemetry/agent.js';
import { ControllerTelemetry } from '../telemetry/controller.js';
import { createLogger } from '../telemetry/log.js';
import { Registry } from '../telemetry/metrics.js';
import { startTracing, type Tracing } from '../telemetry/tracing.js';
import { formatSpanTable, spanReport, type SpanReport } from './demo-spans.js';
import { clusterFlagProblem, nodeVersions, simOptions, untilSignal } from './processes.js';

export interface DemoFlags {
  nodes: number;
  report?: string;
  restartMs: number;
  maxUnavailable: string;
  failNodes?: string;
  versions?: string;
  timeoutSeconds: number;
  /** Root spans each traced kubelet starts per second, before sampling. */
  kubeletSpansPerSecond: number;
  otlpEndpoint?: string;
  otlpProtocol?: string;
}

export interface DemoReport {
  nodes: number;
  converged: number;
  unsupported: number;
  failed: number;
  maxUnavailable: number;
  maxConcurrentRestarts: number;
  durationMs: number;
  idealDurationMs: number;
  /** What the embedded collector received from each node's kubelet. */
  spans: SpanReport;
}

/** The demo policy's sampling rate: high enough that every node's first span arrives within a
 *  few hundred ms of its kubelet starting, and that its ratio can be judged after 1.5 s of spans
 *  at the demo's default span rate (demo-spans.ts); a production policy would sample far less. */
export const DEMO_SAMPLING_RATE_PER_MILLION = 250_000;

export function demoPolicy(maxUnavailable: string, maxFailures: number, endpoint = 'otel-collector.observability.svc:4317'): NodeTracingPolicy {
  return {
    apiVersion: 'nodetracing.dev/v1alpha1',
    kind: 'NodeTracingPolicy',
    metadata: { name: 'demo' },
    spec: {
      nodeSelector: {},
      tracing: { endpoint, samplingRatePerMillion: DEMO_SAMPLING_RATE_PER_MILLION },
      featureGate: 'Auto',
      rollout: {
        maxUnavailable: /^\d+$/.test(maxUnavailable) ? Number(maxUnavailable) : maxUnavailable,
        minReadySeconds: 0,
        nodeTimeoutSeconds: 60,
        maxFailures,
      },
    },
  };
}

const out = (s: string): boolean => process.stdout.write(s);

/** What makes the demo pointless or impossible, naming the flag (usage: exit 2), if anything. */
export function demoFlagProblem(f: DemoFlags): string | undefined {
  const problem = clusterFlagProblem(f);
  if (problem) return problem;
  if (f.kubeletSpansPerSecond <= 0) return "--kubelet-spans-per-second: the demo checks that every traced kubelet's spans arrive; with 0 no kubelet starts any";
  const versions = nodeVersions(f);
  if (!versions.some((v) => render(demoPolicy(f.maxUnavailable, 0).spec, v).supported)) {
    return `--versions: no node can take tracing (kubelet ${[...new Set(versions)].join(', ')}; tracing needs v1.25 or later): the demo would have nothing to roll out`;
  }
  return undefined;
}

export async function demoCommand(f: DemoFlags): Promise<number> {
  const problem = demoFlagProblem(f);
  if (problem) {
    process.stderr.write(`kto demo: ${problem}\n`);
    return 2;
  }
  const started = Date.now();
  const clusterOptions = simOptions({ ...f, port: 0, agents: true, keep: false, notReadyAfterMs: 40_000, crd: true });
  const failNodes = clusterOptions.failNodes;
  // Controller and agents share this process, so one registry; each keeps its service name.
  const registry = new Registry();
  const ctlTracing = startTracing({ service: 'kubelet-tracing-controller', endpoint: f.otlpEndpoint, protocol: f.otlpProtocol, registry });
  const agentTracing = startTracing({ service: 'kubelet-tracing-agent', endpoint: f.otlpEndpoint, protocol: f.otlpProtocol, registry });
  const telemetry = new ControllerTelemetry(ctlTracing, registry);
  const agentTelemetry = new AgentTelemetry(agentTracing, registry);
  // The collector the policy points the kubelets at: gRPC only, as the kubelet exports.
  const collector = await OtlpReceiver.start({ httpPort: null, maxSpans: 10_000 });
  const tally = new SpanTally();
  collector.onSpans((spans) => tally.add(spans));
  const cluster = await SimCluster.start({
    ...clusterOptions,
    agentLog: createLogger('agent', 'warn'),
    agentHooks: (node) => agentTelemetry.hooks(node),
    kubeletSpans: { spansPerSecond: f.kubeletSpansPerSecond, tickMs: 100, exportDelayMs: 100 },
  }).catch(async (err: unknown) => {
    await collector.stop();
    throw err;
  });
  const kc = cluster.kubeConfig();
  const logger = createLogger('controller', 'warn');
  let last: RolloutSummary | undefined;
  let lastLine = '';
  let finish: (s: RolloutSummary) => void = () => undefined;
  const finished = new Promise<RolloutSummary>((resolve) => (finish = resolve));
  const policy = demoPolicy(f.maxUnavailable, failNodes.length, collector.kubeletEndpoint);
  const t0 = { ms: 0 };
  const controller = new Controller({
    kubeConfig: kc,
    leaseNamespace: 'kube-system',
    log: logger,
    ...telemetry.hooks((_name, plan, s) => {
      last = s;
      const line = `updated ${s.updated}/${s.target}  in progress ${plan.inProgress + plan.soaking}  failed ${s.failed}  unsupported ${s.unsupported}`;
      if (line !== lastLine) {
        lastLine = line;
        out(`[${((Date.now() - t0.ms) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);
      }
      // Halted or blocked rollouts wait for a person: the demo reports them and ends.
      if (s.complete || s.halted || s.blocked || (s.updated + s.failed === s.target && plan.inProgress === 0 && plan.soaking === 0)) finish(s);
    }),
  });
  try {
    out(`embedded cluster: ${cluster.url}, ${f.nodes} nodes, kubelet restart ${f.restartMs} ms${failNodes.length ? `, rejecting on ${failNodes.join(', ')}` : ''}\n`);
    out(`embedded collector: OTLP/gRPC at ${collector.kubeletEndpoint}; a kubelet with tracing starts ${f.kubeletSpansPerSecond} spans/s\n`);
    await controller.start();
    t0.ms = Date.now();
    await kc.makeApiClient(k8s.CustomObjectsApi).createClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, body: policy });
    out(`applied NodeTracingPolicy demo: maxUnavailable ${f.maxUnavailable}, endpoint ${policy.spec.tracing.endpoint}, samplingRatePerMillion ${policy.spec.tracing.samplingRatePerMillion}\n`);
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), f.timeoutSeconds * 1000).unref());
    const outcome = await Promise.race([finished, timeout, untilSignal().then(() => 'interrupted' as const)]);
    const durationMs = Date.now() - t0.ms;
    const s = typeof outcome === 'string' ? last : outcome;
    const spans = await spanFigures(cluster, tally, collector.kubeletEndpoint, f.kubeletSpansPerSecond, typeof outcome === 'string' ? 0 : FIRST_SPAN_WAIT_MS);
    const report = summarize(cluster, policy, s, durationMs, f.restartMs, spans);
    printSummary(cluster, policy, report, outcome, s);
    out(formatSpanTable(spans, f.restartMs));
    out(tracesLine(ctlTracing, telemetry.rolloutTraceId(policy.metadata.name ?? '')));
    if (f.report) await writeFile(f.report, `${JSON.stringify(report, null, 2)}\n`);
    out(`done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return typeof outcome !== 'string' && report.converged === report.nodes && spans.ok ? 0 : 1;
  } finally {
    await controller.stop();
    await cluster.stop();
    await collector.stop();
    telemetry.endAll();
    await Promise.all([ctlTracing.shutdown(), agentTracing.shutdown()]);
    logger.flush();
  }
}

function tracesLine(tracing: Tracing, traceId: string | undefined): string {
  if (!tracing.enabled) return 'traces: tracing off (pass --otlp-endpoint or set OTEL_EXPORTER_OTLP_ENDPOINT)\n';
  return `traces: sent to ${tracing.target ? `${tracing.target.url} (${tracing.target.protocol})` : '?'}; rollout trace id ${traceId ?? '(none: no node was released)'}\n`;
}

/** How long the demo waits, after the rollout, for a traced kubelet's first span (normally there already). */
const FIRST_SPAN_WAIT_MS = 5_000;

/** Waits (bounded) for every traced kubelet's first span, stops the kubelets' spans, sends what
 *  is queued, and reads the figures: a node's count and started spans then cover the same spans. */
async function spanFigures(cluster: SimCluster, tally: SpanTally, collector: string, spansPerSecond: number, waitMs: number): Promise<SpanReport> {
  const tracing = cluster.kubeletTracing;
  const nodes = [...cluster.kubelets.values()];
  if (tracing) {
    const silent = () => nodes.filter((k) => (tracing.stats(k.nodeName).tracing?.samplingRatePerMillion ?? 0) > 0 && !tally.get(k.nodeName));
    const until = Date.now() + waitMs;
    while (silent().length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    tracing.pause();
    await tracing.flush();
  }
  return spanReport({
    collector,
    samplingRatePerMillion: DEMO_SAMPLING_RATE_PER_MILLION,
    spansPerSecond,
    nodes: nodes.map((k) => {
      const stats = tracing?.stats(k.nodeName);
      const runs = k.restartLog.filter((r) => r.readyAt !== undefined);
      const restartedAt = runs[runs.length - 1]?.startedAt;
      const firstSpanAt = tally.get(k.nodeName)?.firstAt;
      return {
        node: k.nodeName,
        version: k.version,
        ...(stats?.tracing ? { samplingRatePerMillion: stats.tracing.samplingRatePerMillion } : {}),
        started: stats?.started ?? 0,
        received: tally.get(k.nodeName)?.spans ?? 0,
        ...(restartedAt !== undefined ? { restartedAt } : {}),
        ...(firstSpanAt !== undefined ? { firstSpanAt } : {}),
      };
    }),
  });
}

function summarize(cluster: SimCluster, policy: NodeTracingPolicy, s: RolloutSummary | undefined, durationMs: number, restartMs: number, spans: SpanReport): DemoReport {
  const rollout = resolveRollout(policy.spec);
  const supported = [...cluster.kubelets.values()].filter((k) => render(policy.spec, k.version).supported).length;
  const maxUnavailable = resolveMaxUnavailable(rollout.maxUnavailable, supported);
  return {
    nodes: supported,
    converged: s?.updated ?? 0,
    unsupported: s?.unsupported ?? 0,
    failed: s?.failed ?? 0,
    maxUnavailable,
    maxConcurrentRestarts: cluster.maxConcurrentRestarts(),
    durationMs,
    idealDurationMs: Math.ceil(supported / maxUnavailable) * (restartMs + rollout.minReadySeconds * 1000),
    spans,
  };
}

function printSummary(cluster: SimCluster, policy: NodeTracingPolicy, r: DemoReport, outcome: unknown, last: RolloutSummary | undefined): void {
  const byVersion = new Map<string, { nodes: number; gate: boolean; supported: boolean }>();
  for (const k of cluster.kubelets.values()) {
    const minor = k.version.replace(/^v?(\d+\.\d+).*/, 'v$1');
    const rr = render(policy.spec, k.version);
    const row = byVersion.get(minor) ?? { nodes: 0, gate: rr.supported && rr.gate, supported: rr.supported };
    row.nodes++;
    byVersion.set(minor, row);
  }
  out('\nkubelet  nodes  rendered\n');
  for (const [v, row] of [...byVersion].sort()) {
    out(`${v.padEnd(8)} ${String(row.nodes).padStart(5)}  ${row.supported ? (row.gate ? 'tracing + KubeletTracing gate' : 'tracing') : 'unsupported (reported, not touched)'}\n`);
  }
  const verdict = outcome === 'timeout' ? 'TIMED OUT' : outcome === 'interrupted' ? 'INTERRUPTED' : r.converged === r.nodes ? 'CONVERGED' : 'NOT CONVERGED';
  out(
    `\n${verdict}: ${r.converged}/${r.nodes} supported nodes updated, ${r.failed} failed, ${r.unsupported} unsupported\n` +
      `  took ${(r.durationMs / 1000).toFixed(2)} s (ideal ${(r.idealDurationMs / 1000).toFixed(2)} s, ${(r.durationMs / Math.max(1, r.idealDurationMs)).toFixed(2)}x); ` +
      `at most ${r.maxConcurrentRestarts} kubelets restarting at once (maxUnavailable ${r.maxUnavailable})\n`,
  );
  const s = typeof outcome === 'object' ? (outcome as RolloutSummary | null) : last;
  for (const f of s?.failures ?? []) out(`  ${describeFailure(f, s?.nodeTimeoutSeconds ?? 0)}\n`);
  if (s?.halted) out(`  the rollout halted: more than maxFailures nodes failed; fix the policy or raise maxFailures\n`);
  else if (s?.blocked) out(`  the rollout is blocked: not-Ready or failed nodes hold every maxUnavailable slot (bring them back, or raise maxUnavailable)\n`);
}
