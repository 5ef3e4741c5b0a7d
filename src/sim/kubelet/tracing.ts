// What a simulated kubelet does with its `tracing` stanza: while it runs with one, it exports OTLP
// spans over gRPC as KEP-2831's kubelet does; otherwise it exports nothing. Driven by the
// kubelet's effective config (SimKubelet's onConfig): a restart takes the old tracer away (the
// process is gone), a start with tracing creates a new one, a crash-looping kubelet has none.
//
// As component-base tracing.NewProvider builds it: resource service.name=kubelet and host.name
// (plus k8s.node.name, which a collector's k8sattributes processor would otherwise add), sampler
// ParentBased(TraceIDRatioBased(samplingRatePerMillion / 1e6)), or ParentBased(NeverSample) when
// the rate is 0 or unset, a batch span processor, and the gRPC exporter dialling the endpoint
// (default localhost:4317). The spans are the kubelet's own root spans (span-mix.ts), so a rate of
// 0 sends nothing.
//
// Cheap at 5,000 nodes: one timer drives every kubelet, a kubelet is a tracer provider and a few
// counters, and kubelets that share an endpoint share one exporter (one gRPC channel) and one
// bounded queue (otlp-export.ts).
import { ROOT_CONTEXT, type Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  type IdGenerator,
  ParentBasedSampler,
  type ReadableSpan,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-node';
import { isObject, type JsonObject } from './config.js';
import { DEFAULT_KUBELET_ENDPOINT, EndpointExport, type EndpointStats, type ExportQueueOptions } from './otlp-export.js';
import { KUBELET_SPAN_CYCLE, OTELGRPC_SCOPE, OTELHTTP_SCOPE } from './span-mix.js';

export interface KubeletTracingOptions extends Partial<ExportQueueOptions> {
  /** Root spans each traced kubelet starts per second, before sampling. */
  spansPerSecond: number;
  /** Period of the one timer that drives every kubelet; 0: no timer (tests call tick()). Default 100 ms. */
  tickMs?: number;
  /** Trace and span ids (tests: a seeded generator). Default: the SDK's random ids. */
  idGenerator?: IdGenerator;
  now?: () => number;
  /** One exporter (gRPC channel) and queue per kubelet, as on real nodes, instead of one per
   *  endpoint: only to measure what sharing saves (bench/kubelet-spans.ts). */
  exporterPerKubelet?: boolean;
}

/** The tracing stanza as the kubelet reads it (effective config), with its defaults applied. */
export interface KubeletTracingConfig {
  endpoint: string;
  samplingRatePerMillion: number;
}

export function tracingConfigOf(effective: JsonObject | undefined): KubeletTracingConfig | undefined {
  const t = effective?.['tracing'];
  if (!isObject(t)) return undefined;
  const endpoint = typeof t['endpoint'] === 'string' && t['endpoint'] !== '' ? t['endpoint'] : DEFAULT_KUBELET_ENDPOINT;
  const rate = typeof t['samplingRatePerMillion'] === 'number' ? t['samplingRatePerMillion'] : 0;
  return { endpoint, samplingRatePerMillion: rate };
}

export interface KubeletSpanStats {
  /** The running kubelet's tracing, if it has any. */
  tracing?: KubeletTracingConfig & { since: number };
  /** Spans started (sampled or not) and sampled, over every tracer this kubelet has had. */
  started: number;
  sampled: number;
}

interface Counts {
  started: number;
  sampled: number;
}

interface KubeletTracer {
  readonly node: string;
  readonly config: KubeletTracingConfig;
  readonly since: number;
  readonly grpc: Tracer;
  readonly http: Tracer;
  readonly counts: Counts;
  readonly export: EndpointExport;
  /** Spans owed (fractional) at the configured rate. */
  credit: number;
  cursor: number;
}

const DEFAULT_QUEUE: ExportQueueOptions = { exportDelayMs: 1_000, maxQueueSize: 8_192, maxExportBatchSize: 512, exportTimeoutMs: 10_000 };
/** After a stalled event loop, catch up at most this much time at once instead of a burst. */
const MAX_CATCH_UP_MS = 1_000;

export class KubeletTracing {
  private readonly active = new Map<string, KubeletTracer>();
  private readonly totals = new Map<string, Counts>();
  private readonly endpoints = new Map<string, EndpointExport>();
  private readonly closing = new Set<Promise<void>>();
  private readonly queue: ExportQueueOptions;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private lastTick: number;
  private paused = false;
  /** Tracers created so far: spreads the kubelets over the span cycle. */
  private created = 0;

  constructor(private readonly o: KubeletTracingOptions) {
    if (!(o.spansPerSecond >= 0) || !Number.isFinite(o.spansPerSecond)) throw new Error(`spansPerSecond: ${o.spansPerSecond} must be a number >= 0`);
    this.queue = {
      exportDelayMs: o.exportDelayMs ?? DEFAULT_QUEUE.exportDelayMs,
      maxQueueSize: o.maxQueueSize ?? DEFAULT_QUEUE.maxQueueSize,
      maxExportBatchSize: o.maxExportBatchSize ?? DEFAULT_QUEUE.maxExportBatchSize,
      exportTimeoutMs: o.exportTimeoutMs ?? DEFAULT_QUEUE.exportTimeoutMs,
    };
    this.now = o.now ?? Date.now;
    this.lastTick = this.now();
    const tickMs = o.tickMs ?? 100;
    if (tickMs > 0 && o.spansPerSecond > 0) {
      this.timer = setInterval(() => this.onTimer(), tickMs);
      this.timer.unref();
    }
  }

  /** The kubelet of `node` now runs with `effective` (undefined: it is down or crash-looping). */
  configure(node: string, effective: JsonObject | undefined): void {
    this.release(node);
    const config = tracingConfigOf(effective);
    if (!config) return;
    const endpoint = this.endpointFor(config.endpoint, node);
    endpoint.kubelets++;
    let counts = this.totals.get(node);
    if (!counts) this.totals.set(node, (counts = { started: 0, sampled: 0 }));
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'kubelet', 'host.name': node, 'k8s.node.name': node }),
      sampler: new ParentBasedSampler({ root: config.samplingRatePerMillion > 0 ? new TraceIdRatioBasedSampler(config.samplingRatePerMillion / 1e6) : new AlwaysOffSampler() }),
      spanProcessors: [forwardTo(endpoint, counts)],
      ...(this.o.idGenerator ? { idGenerator: this.o.idGenerator } : {}),
    });
    this.active.set(node, {
      node,
      config,
      since: this.now(),
      grpc: provider.getTracer(OTELGRPC_SCOPE),
      http: provider.getTracer(OTELHTTP_SCOPE),
      counts,
      export: endpoint,
      credit: 0,
      cursor: this.created++ % KUBELET_SPAN_CYCLE.length,
    });
  }

  /** Starts the spans owed for `elapsedMs` on every traced kubelet (the timer calls this). */
  tick(elapsedMs: number): void {
    if (this.paused) return;
    const due = (this.o.spansPerSecond * elapsedMs) / 1000;
    const at = this.now();
    for (const k of this.active.values()) {
      k.credit += due;
      while (k.credit >= 1) {
        k.credit -= 1;
        this.emit(k, at);
      }
    }
  }

  /** Stops starting spans (what is queued is still sent); the demo's table is read after this. */
  pause(): void {
    this.paused = true;
  }

  stats(node: string): KubeletSpanStats {
    const k = this.active.get(node);
    const counts = this.totals.get(node) ?? { started: 0, sampled: 0 };
    return { ...(k ? { tracing: { ...k.config, since: k.since } } : {}), started: counts.started, sampled: counts.sampled };
  }

  /** Kubelets now exporting. */
  get tracedKubelets(): number {
    return this.active.size;
  }

  endpointStats(): EndpointStats[] {
    return [...this.endpoints.values()].map((e) => e.stats());
  }

  /** Sends every queued span and waits for the answers. */
  async flush(): Promise<void> {
    // An export that failed is counted in endpointStats(), not thrown.
    await Promise.all([...this.endpoints.values()].map((e) => e.flush().catch(() => undefined)));
    await Promise.all(this.closing);
  }

  /** Stops every kubelet's tracer and closes the exporters. Like a stopped kubelet, it does not
   *  wait long for a collector that does not answer: flush() first to deliver everything. */
  async stop(graceMs = 250): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.paused = true;
    for (const node of [...this.active.keys()]) this.release(node);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.all(this.closing), grace]);
    clearTimeout(timer);
  }

  private onTimer(): void {
    const now = this.now();
    const elapsed = Math.min(now - this.lastTick, MAX_CATCH_UP_MS);
    this.lastTick = now;
    if (elapsed > 0) this.tick(elapsed);
  }

  private emit(k: KubeletTracer, at: number): void {
    const s = KUBELET_SPAN_CYCLE[k.cursor];
    k.cursor = (k.cursor + 1) % KUBELET_SPAN_CYCLE.length;
    if (!s) return; // never: the cursor stays inside the cycle
    k.counts.started++;
    const tracer = s.scope === OTELGRPC_SCOPE ? k.grpc : k.http;
    // ROOT_CONTEXT: these come from the kubelet's own loops, never from a caller's context (and
    // never from the operator's spans, which share this process in the demo).
    tracer.startSpan(s.name, { kind: s.kind, attributes: s.attributes(k.node), startTime: at - s.durationMs }, ROOT_CONTEXT).end(at);
  }

  private endpointFor(target: string, node: string): EndpointExport {
    const key = this.o.exporterPerKubelet ? `${node}\0${target}` : target;
    let e = this.endpoints.get(key);
    if (!e) this.endpoints.set(key, (e = new EndpointExport(target, this.queue, key)));
    return e;
  }

  /** The kubelet of `node` stops (restart, crash, config removed): its tracer goes with it. */
  private release(node: string): void {
    const k = this.active.get(node);
    if (!k) return;
    this.active.delete(node);
    const e = k.export;
    e.kubelets--;
    if (e.kubelets > 0) return;
    // No kubelet uses this endpoint any more: send what is queued, then close its channel.
    this.endpoints.delete(e.key);
    // A failed last export is counted in the endpoint's stats; closing itself never fails.
    const closed = e.shutdown().then(
      () => undefined,
      () => undefined,
    );
    void closed.then(() => this.closing.delete(closed));
    this.closing.add(closed);
  }
}

/** Each kubelet's provider hands its sampled spans to its endpoint's shared queue. Shutting a
 *  provider down must not shut the shared queue, so this processor owns nothing. */
function forwardTo(endpoint: EndpointExport, counts: Counts): SpanProcessor {
  return {
    onStart: () => undefined,
    onEnd: (span: ReadableSpan) => {
      counts.sampled++;
      endpoint.enqueue(span);
    },
    forceFlush: () => endpoint.flush(),
    shutdown: () => Promise.resolve(),
  };
}
