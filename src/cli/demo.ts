// kto demo: the embedded cluster (`kto sim`) + the controller (`kto controller`) in one process,
// one policy applied through the API, live progress, a summary, and an optional JSON report.
import { writeFile } from 'node:fs/promises';
import * as k8s from '@kubernetes/client-node';
import { newPolicy } from '../api/policy.js';
import { GROUP, PLURAL, resolveRollout, VERSION, type NodeTracingPolicy } from '../api/types.js';
import { resolveMaxUnavailable } from '../controller/planner.js';
import { describeFailure, type RolloutSummary } from '../controller/status.js';
import { render } from '../render/render.js';
import type { SimCluster } from '../sim/cluster.js';
import { OtlpReceiver, SpanTally } from '../sim/collector/index.js';
import type { Tracing } from '../telemetry/tracing.js';
import { Stack } from '../wiring.js';
import { formatSpanTable, spanReport, type SpanReport } from './demo-spans.js';
import { clusterFlagProblem, nodeVersions, simOptions } from './sim.js';
import { untilSignal } from './signals.js';

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
  return newPolicy('demo', {
    nodeSelector: {},
    tracing: { endpoint, samplingRatePerMillion: DEMO_SAMPLING_RATE_PER_MILLION },
    featureGate: 'Auto',
    rollout: {
      maxUnavailable: /^\d+$/.test(maxUnavailable) ? Number(maxUnavailable) : maxUnavailable,
      minReadySeconds: 0,
      nodeTimeoutSeconds: 60,
      maxFailures,
    },
  });
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
  const cluster = simOptions({ ...f, port: 0, agents: true, keep: false, notReadyAfterMs: 40_000, crd: true });
  // The collector the policy points the kubelets at: gRPC only, as the kubelet exports.
  const collector = await OtlpReceiver.start({ httpPort: null, maxSpans: 10_000 });
  const tally = new SpanTally();
  collector.onSpans((spans) => tally.add(spans));
  const stack = await Stack.start({
    cluster: { ...cluster, kubeletSpans: { spansPerSecond: f.kubeletSpansPerSecond, tickMs: 100, exportDelayMs: 100 } },
    tracing: { endpoint: f.otlpEndpoint, protocol: f.otlpProtocol },
    logLevel: 'warn',
  }).catch(async (err: unknown) => {
    await collector.stop();
    throw err;
  });
  const policy = demoPolicy(f.maxUnavailable, cluster.failNodes.length, collector.kubeletEndpoint);
  try {
    out(`embedded cluster: ${stack.cluster.url}, ${f.nodes} nodes, kubelet restart ${f.restartMs} ms${cluster.failNodes.length ? `, rejecting on ${cluster.failNodes.join(', ')}` : ''}\n`);
    out(`embedded collector: OTLP/gRPC at ${collector.kubeletEndpoint}; a kubelet with tracing starts ${f.kubeletSpansPerSecond} spans/s\n`);
    // Halted or blocked rollouts wait for a person: the demo reports them and ends.
    const { outcome, durationMs } = await rollOut(stack, policy, f);
    const s = typeof outcome === 'string' ? stack.summary(policy.metadata.name ?? '') : outcome;
    const spans = await spanFigures(stack.cluster, tally, collector.kubeletEndpoint, f.kubeletSpansPerSecond, typeof outcome === 'string' ? 0 : FIRST_SPAN_WAIT_MS);
    const report = summarize(stack.cluster, policy, s, durationMs, f.restartMs, spans);
    printSummary(stack.cluster, policy, report, outcome, s);
    out(formatSpanTable(spans, f.restartMs));
    out(tracesLine(stack.ctl.tracing, stack.ctl.rolloutTraceId(policy.metadata.name ?? '')));
    if (f.report) await writeFile(f.report, `${JSON.stringify(report, null, 2)}\n`);
    out(`done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return typeof outcome !== 'string' && report.converged === report.nodes && spans.ok ? 0 : 1;
  } finally {
    await stack.stop();
    await collector.stop();
  }
}

type Outcome = RolloutSummary | 'timeout' | 'interrupted';

/** Starts the controller, applies the policy through the API, prints each change of progress,
 *  and waits for the rollout to settle, the timeout or Ctrl-C. */
async function rollOut(stack: Stack, policy: NodeTracingPolicy, f: DemoFlags): Promise<{ outcome: Outcome; durationMs: number }> {
  let lastLine = '';
  const t0 = { ms: 0 };
  stack.onPlan((_name, plan, s) => {
    const line = `updated ${s.updated}/${s.target}  in progress ${plan.inProgress + plan.soaking}  failed ${s.failed}  unsupported ${s.unsupported}`;
    if (line === lastLine) return;
    lastLine = line;
    out(`[${((Date.now() - t0.ms) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);
  });
  // The demo's controller campaigns for its Lease, as an installed one does.
  await stack.startController({ leaseNamespace: 'kube-system', noLeaderElection: false });
  t0.ms = Date.now();
  const settled = stack.settled(policy.metadata.name ?? '');
  await stack.kubeConfig.makeApiClient(k8s.CustomObjectsApi).createClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, body: policy });
  out(`applied NodeTracingPolicy demo: maxUnavailable ${f.maxUnavailable}, endpoint ${policy.spec.tracing.endpoint}, samplingRatePerMillion ${policy.spec.tracing.samplingRatePerMillion}\n`);
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), f.timeoutSeconds * 1000).unref());
  const outcome = await Promise.race([settled, timeout, untilSignal().then(() => 'interrupted' as const)]);
  return { outcome, durationMs: Date.now() - t0.ms };
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
