// OpenTelemetry tracing for one service (controller or agent): NodeTracerProvider, a bounded
// BatchSpanProcessor and the OTLP exporter made for the protocol in use (grpc, http/protobuf or
// http/json), configured by the standard OTEL_* variables or the --otlp-endpoint/--otlp-protocol
// flags (otel-env.ts). With no endpoint it is off: a no-op tracer, no provider, no timers.
//
// A collector that is down must cost us nothing but the spans: the queue is bounded (full ->
// dropped and counted), each export gives up after exportTimeoutMillis, and shutdown() waits at
// most a bounded time for the last flush.
import {
  type Attributes,
  createNoopMeter,
  type Counter as OtelCounter,
  diag,
  DiagLogLevel,
  type Meter,
  type MeterProvider,
  type MetricOptions,
  ProxyTracerProvider,
  type Tracer,
} from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type BufferConfig, NodeTracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace-node';
import { VERSION } from '../version.js';
import { Registry, spanMetrics, type SpanMetrics } from './metrics.js';
import { type OtlpFlags, type OtlpProtocol, type OtlpTarget, otelSettings } from './otel-env.js';
import { Backoff } from '../util/backoff.js';

export { DEFAULT_QUEUE, EXPORTER_TIMEOUT_MS, OTLP_PROTOCOLS, type OtlpProtocol } from './otel-env.js';

export type ServiceName = 'kubelet-tracing-controller' | 'kubelet-tracing-agent';

export interface TracingOptions extends OtlpFlags {
  service: ServiceName;
  /** Where kto_spans_* are counted. */
  registry?: Registry;
  /** Overrides of the batch processor settings (tests); win over OTEL_BSP_*. */
  queue?: Partial<BufferConfig>;
  /** Replaces the OTLP exporter (tests); counting still applies. */
  exporter?: SpanExporter;
  /** Where configuration warnings go (a malformed OTEL_* variable); default process.emitWarning. */
  warn?: (message: string) => void;
}

export interface Tracing {
  readonly enabled: boolean;
  readonly service: ServiceName;
  /** Where spans go and how, when enabled. */
  readonly target: OtlpTarget | undefined;
  readonly tracer: Tracer;
  forceFlush(): Promise<void>;
  /** Flushes and stops; gives up waiting after timeoutMs (an unreachable collector). */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** The BatchSpanProcessor reports each span it drops on this counter, error.type=queue_full. */
const PROCESSED_METRIC = 'otel.sdk.processor.span.processed';

function otlpExporter(t: OtlpTarget, timeoutMillis: number): SpanExporter {
  const byProtocol: Record<OtlpProtocol, () => SpanExporter> = {
    grpc: () => new GrpcExporter({ url: t.url, timeoutMillis }),
    'http/protobuf': () => new ProtobufExporter({ url: t.url, timeoutMillis }),
    'http/json': () => new JsonExporter({ url: t.url, timeoutMillis }),
  };
  return byProtocol[t.protocol]();
}

const defaultWarn = (message: string): void => process.emitWarning(message, 'OpenTelemetryConfigWarning');

let globalsRegistered = false;

export function startTracing(o: TracingOptions): Tracing {
  const warn = o.warn ?? defaultWarn;
  // Throws OtlpFlagError on a bad flag; the CLI checks the flags before it gets here.
  const settings = otelSettings({ endpoint: o.endpoint, protocol: o.protocol }, process.env);
  for (const w of settings.warnings) warn(w);
  const { target } = settings;
  const otlp = o.exporter ?? (target && otlpExporter(target, settings.timeoutMillis));
  if (otlp === undefined) return disabledTracing(o.service);

  const metrics = spanMetrics(o.registry ?? new Registry());
  const queue: BufferConfig & { selfObsMeterProvider: MeterProvider } = {
    ...settings.queue,
    ...o.queue,
    // Typed BufferConfig does not list it, but the processor takes it and reports drops there.
    selfObsMeterProvider: dropReporter(metrics),
  };
  // Env resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES: the chart's k8s.pod.name,
  // k8s.namespace.name, k8s.node.name) merged last so it wins over our defaults: passing a
  // resource of our own would otherwise hide both variables.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': o.service, 'service.version': VERSION }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new CountingExporter(otlp, metrics), queue)],
  });
  // Context manager (AsyncLocalStorage), the W3C propagator and the SDK's own diagnostics are
  // process-wide: the demo runs a controller and agents (two providers) in one process, and the
  // first registration holds.
  if (!globalsRegistered) {
    provider.register();
    // The exporters warn (diag) about the variables they read themselves (headers, compression,
    // certificates): surface those as ours. Export errors are counted, not logged per batch.
    diag.setLogger({ error: () => undefined, warn: (m: string) => warn(m), info: () => undefined, debug: () => undefined, verbose: () => undefined }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
    globalsRegistered = true;
  }
  const tracer = provider.getTracer('kubelet-tracing-operator', VERSION);
  let stopped: Promise<void> | undefined;
  return {
    enabled: true,
    service: o.service,
    target,
    tracer,
    forceFlush: () => provider.forceFlush(),
    shutdown(timeoutMs = 5_000) {
      stopped ??= withTimeout(provider.shutdown(), timeoutMs);
      return stopped;
    },
  };
}

function disabledTracing(service: ServiceName): Tracing {
  // A proxy with no delegate hands out the API's no-op tracer, without touching the globals.
  // Deprecated for API 2.0; API 1.x has no other no-op tracer that leaves the globals alone.
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  const tracer = new ProxyTracerProvider().getTracer('kubelet-tracing-operator');
  return { enabled: false, service, target: undefined, tracer, forceFlush: async () => undefined, shutdown: async () => undefined };
}

async function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  try {
    await Promise.race([p.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

type ExportCallback = Parameters<SpanExporter['export']>[1];

/**
 * Counts what the exporter delivered and what it failed to, and stops knocking on a collector
 * that is down: after a failed export, batches fail at once (counted) until a back-off passes,
 * then one batch probes. The exporter's own retries take up to exportTimeoutMillis per batch;
 * without this every batch would, and so would the last flush at shutdown.
 */
class CountingExporter implements SpanExporter {
  private downUntil = 0;
  private down = false;
  private probing = false;
  private readonly backoff: Backoff;

  constructor(
    private readonly inner: SpanExporter,
    private readonly m: SpanMetrics,
    maxBackoffMs = 30_000,
  ) {
    this.backoff = new Backoff({ initialMs: 1_000, maxMs: maxBackoffMs });
  }

  export(spans: Parameters<SpanExporter['export']>[0], done: ExportCallback): void {
    if (this.down && (this.probing || Date.now() < this.downUntil)) {
      this.m.exportFailed.inc(spans.length);
      done({ code: ExportResultCode.FAILED, error: new Error('OTLP collector unreachable: not exporting until the next probe') });
      return;
    }
    this.probing = this.down;
    this.inner.export(spans, (result) => {
      this.probing = false;
      if (result.code === ExportResultCode.SUCCESS) {
        this.down = false;
        this.backoff.reset();
        this.m.exported.inc(spans.length);
      } else {
        this.down = true;
        this.downUntil = Date.now() + this.backoff.next();
        this.m.exportFailed.inc(spans.length);
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** A MeterProvider that only listens for the processor's own "dropped, queue full" count. */
function dropReporter(m: SpanMetrics): MeterProvider {
  const meter: Meter = createNoopMeter();
  const noopCounter = meter.createCounter.bind(meter);
  const drops: OtelCounter = {
    add(value: number, attributes?: Attributes) {
      if (attributes?.['error.type'] === 'queue_full') m.dropped.inc(value);
    },
  };
  meter.createCounter = <A extends Attributes = Attributes>(name: string, options?: MetricOptions): OtelCounter<A> =>
    name === PROCESSED_METRIC ? drops : noopCounter<A>(name, options);
  return { getMeter: () => meter };
}
