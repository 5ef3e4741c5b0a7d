// OpenTelemetry tracing for one service (controller or agent): NodeTracerProvider, a bounded
// BatchSpanProcessor and the OTLP/HTTP exporter, configured by the standard OTEL_* variables or
// an explicit --otlp-endpoint. With no endpoint it is off: a no-op tracer, no provider, no timers.
//
// A collector that is down must cost us nothing but the spans: the queue is bounded (full ->
// dropped and counted), each export gives up after exportTimeoutMillis, and shutdown() waits at
// most a bounded time for the last flush.
import {
  createNoopMeter,
  type Counter as OtelCounter,
  type Meter,
  type MeterProvider,
  type MetricAttributes,
  type MetricOptions,
  ProxyTracerProvider,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type BufferConfig, NodeTracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace-node';
import { Registry, spanMetrics, type SpanMetrics } from './metrics.js';

export type ServiceName = 'kubelet-tracing-controller' | 'kubelet-tracing-agent';

export const DEFAULT_QUEUE: Required<BufferConfig> = {
  maxQueueSize: 2048,
  maxExportBatchSize: 512,
  scheduledDelayMillis: 500,
  exportTimeoutMillis: 5000,
};

export interface TracingOptions {
  service: ServiceName;
  /** `--otlp-endpoint`: the collector's OTLP/HTTP base URL (http://host:4318) or its full
   *  /v1/traces URL. Wins over OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT. */
  endpoint?: string;
  /** Where kto_spans_* are counted. */
  registry?: Registry;
  /** Overrides of DEFAULT_QUEUE (tests). */
  queue?: Partial<BufferConfig>;
  /** Replaces the OTLP exporter (tests); counting still applies. */
  exporter?: SpanExporter;
}

export interface Tracing {
  readonly enabled: boolean;
  readonly service: ServiceName;
  /** The URL spans are posted to, when enabled. */
  readonly endpoint: string | undefined;
  readonly tracer: Tracer;
  forceFlush(): Promise<void>;
  /** Flushes and stops; gives up waiting after timeoutMs (an unreachable collector). */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** ExportResultCode.SUCCESS / FAILED of @opentelemetry/core (not a direct dependency). */
const EXPORT_SUCCESS = 0;
const EXPORT_FAILED = 1;
/** The BatchSpanProcessor reports each span it drops on this counter, error.type=queue_full. */
const PROCESSED_METRIC = 'otel.sdk.processor.span.processed';

/** The traces URL from the flag or the environment, or undefined when tracing is off. */
export function resolveTracesEndpoint(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (explicit !== undefined && explicit !== '') return tracesUrl(explicit, '--otlp-endpoint');
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return undefined;
  const signal = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (signal) return checkedUrl(signal, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (base) return tracesUrl(base, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  return undefined;
}

function tracesUrl(base: string, what: string): string {
  const url = checkedUrl(base, what);
  return /\/v1\/traces\/?$/.test(new URL(url).pathname) ? url : `${url.replace(/\/+$/, '')}/v1/traces`;
}

function checkedUrl(raw: string, what: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`${what}: "${raw}" is not a URL (want http://host:4318)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`${what}: scheme "${u.protocol.replace(/:$/, '')}" is not OTLP/HTTP (want http:// or https://)`);
  return raw;
}

/**
 * Each batch's export (with the exporter's own retries) gives up after this, unless
 * OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT says otherwise. Short on purpose: a refused connection is
 * retried once, not for seconds, so a dead collector neither holds the last flush nor keeps the
 * process alive after shutdown. The processor's exportTimeoutMillis stays the backstop.
 */
export const EXPORTER_TIMEOUT_MS = 2_000;

function exporterTimeout(): { timeoutMillis?: number } {
  const fromEnv = process.env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? process.env.OTEL_EXPORTER_OTLP_TIMEOUT;
  return fromEnv !== undefined && fromEnv.trim() !== '' ? {} : { timeoutMillis: EXPORTER_TIMEOUT_MS };
}

let globalsRegistered = false;

export function startTracing(o: TracingOptions): Tracing {
  const endpoint = resolveTracesEndpoint(o.endpoint);
  if (endpoint === undefined && o.exporter === undefined) return disabledTracing(o.service);

  const metrics = spanMetrics(o.registry ?? new Registry());
  const otlp = o.exporter ?? new OTLPTraceExporter({ url: endpoint, ...exporterTimeout() });
  const queue: BufferConfig & { selfObsMeterProvider: MeterProvider } = {
    ...DEFAULT_QUEUE,
    ...o.queue,
    // Typed BufferConfig does not list it, but the processor takes it and reports drops there.
    selfObsMeterProvider: dropReporter(metrics),
  };
  // Env resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) merged last so it wins over our
  // default service name: passing a resource of our own would otherwise hide both variables.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': o.service }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new CountingExporter(otlp, metrics), queue)],
  });
  // Context manager (AsyncLocalStorage) and the W3C propagator are process-wide: the demo runs
  // a controller and agents (two providers) in one process, and the first registration holds.
  if (!globalsRegistered) {
    provider.register();
    globalsRegistered = true;
  }
  const tracer = provider.getTracer('kubelet-tracing-operator');
  let stopped: Promise<void> | undefined;
  return {
    enabled: true,
    service: o.service,
    endpoint,
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
  const tracer = new ProxyTracerProvider().getTracer('kubelet-tracing-operator');
  return { enabled: false, service, endpoint: undefined, tracer, forceFlush: async () => undefined, shutdown: async () => undefined };
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
  private backoffMs = 0;
  private probing = false;

  constructor(
    private readonly inner: SpanExporter,
    private readonly m: SpanMetrics,
    private readonly maxBackoffMs = 30_000,
  ) {}

  export(spans: Parameters<SpanExporter['export']>[0], done: ExportCallback): void {
    if (this.backoffMs > 0 && (this.probing || Date.now() < this.downUntil)) {
      this.m.exportFailed.inc(spans.length);
      done({ code: EXPORT_FAILED, error: new Error('OTLP collector unreachable: not exporting until the next probe') });
      return;
    }
    this.probing = this.backoffMs > 0;
    this.inner.export(spans, (result) => {
      this.probing = false;
      if (result.code === EXPORT_SUCCESS) {
        this.backoffMs = 0;
        this.m.exported.inc(spans.length);
      } else {
        this.backoffMs = Math.min(Math.max(1_000, this.backoffMs * 2), this.maxBackoffMs);
        this.downUntil = Date.now() + this.backoffMs;
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
    add(value: number, attributes?: MetricAttributes) {
      if (attributes?.['error.type'] === 'queue_full') m.dropped.inc(value);
    },
  };
  meter.createCounter = <A extends MetricAttributes = MetricAttributes>(name: string, options?: MetricOptions): OtelCounter<A> =>
    name === PROCESSED_METRIC ? drops : noopCounter<A>(name, options);
  return { getMeter: () => meter };
}
