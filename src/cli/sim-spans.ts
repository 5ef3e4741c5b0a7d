// The kubelets' spans in `kto sim`, for a person driving the sim by hand. `--collector` runs the
// embedded OTLP collector next to the embedded cluster: kubelets export to its gRPC port; its HTTP
// port takes OTLP/HTTP too and serves GET /spans (spans per node, first and last arrival); a line
// goes to stdout when nodes send their first spans, so the rollout reaching each node shows as it
// happens. Whatever the collector, a kubelet endpoint that fails is reported, not silently lost.
import { OtlpReceiver, SpanTally } from '../sim/collector/index.js';
import type { KubeletTracing } from '../sim/kubelet/tracing.js';

export interface SimCollector {
  /** The endpoint to put in a policy's spec.tracing.endpoint. */
  readonly endpoint: string;
  readonly spansUrl: string;
  /** Banner lines. */
  describe(): string[];
  stop(): Promise<void>;
}

/** The endpoint examples/sim-collector.yaml names: the collector on its default port. */
export const SIM_COLLECTOR_EXAMPLE_ENDPOINT = '127.0.0.1:4317';

/** Nodes named one by one in a progress line before the rest are counted. */
const NAMED = 8;

export async function startSimCollector(grpcPort: number, write: (line: string) => void, everyMs = 1_000): Promise<SimCollector> {
  const tally = new SpanTally();
  // A collector's usual pair: OTLP/gRPC on 4317, OTLP/HTTP on 4318.
  const receiver = await OtlpReceiver.start({
    grpcPort,
    httpPort: grpcPort === 0 ? 0 : grpcPort + 1,
    // Counts are per node (the tally); only the latest spans are kept, to bound memory at 5,000 nodes.
    maxSpans: 1_000,
    routes: { '/spans': () => tally.toJSON() },
  });
  receiver.onSpans((spans) => tally.add(spans));
  const seen = new Set<string>();
  const timer = setInterval(() => {
    // Nodes are only ever added: a size that has not moved means nobody new.
    if (tally.size === seen.size) return;
    const fresh = [...tally.keys()].filter((n) => !seen.has(n));
    for (const n of fresh) seen.add(n);
    const named = fresh.slice(0, NAMED).join(', ') + (fresh.length > NAMED ? ` and ${fresh.length - NAMED} more` : '');
    write(`[collector ${new Date().toISOString().slice(11, 19)}] first spans from ${named}: ${seen.size} nodes sending, ${tally.total} spans so far\n`);
  }, everyMs);
  timer.unref();
  const endpoint = receiver.kubeletEndpoint;
  const spansUrl = `${receiver.httpEndpoint}/spans`;
  return {
    endpoint,
    spansUrl,
    describe: () => [
      `  embedded collector: OTLP/gRPC on ${endpoint} (OTLP/HTTP on ${receiver.httpEndpoint}); spans per node: curl ${spansUrl}`,
      `    a policy sends the kubelets' spans here with spec.tracing.endpoint: ${endpoint} (examples/sim-collector.yaml)`,
    ],
    async stop() {
      clearInterval(timer);
      await receiver.stop();
    },
  };
}

/** Writes a line when exporting to an endpoint starts failing (or fails differently); returns the stop function. */
export function reportExportErrors(tracing: KubeletTracing, write: (line: string) => void, everyMs = 5_000): () => void {
  const reported = new Map<string, string>();
  const timer = setInterval(() => {
    for (const e of tracing.endpointStats()) {
      if (e.lastError === undefined || reported.get(e.endpoint) === e.lastError) continue;
      reported.set(e.endpoint, e.lastError);
      write(`[kubelet spans] export to ${e.endpoint} failing (${e.failed} spans lost so far): ${e.lastError}\n`);
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
