// The OTLP gRPC export of simulated kubelets: one exporter and one batch processor per distinct
// endpoint, shared by every kubelet configured with it. The kubelet's otlptracegrpc exporter
// hands its `endpoint` to gRPC unchanged as the dial target, so this does too: it builds the
// exporter from the same pieces as @opentelemetry/exporter-trace-otlp-grpc's OTLPTraceExporter
// (export delegate, protobuf serializer, gRPC transport) but skips that class's URL
// normalisation, which knows only http(s)://host:port and unix:// and would turn dns:///host:port
// or unix-abstract:///name into something else. Spans keep their own resource (one per node), so
// a shared batch still arrives as one ResourceSpans per kubelet.
import * as grpc from '@grpc/grpc-js';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { createOtlpGrpcExportDelegate } from '@opentelemetry/otlp-grpc-exporter-base';
import { ProtobufTraceSerializer, TraceExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-node';
import { registerUnixAbstract } from '../grpc-naming.js';

/** otlptracegrpc's endpoint when the kubelet's tracing stanza names none. */
export const DEFAULT_KUBELET_ENDPOINT = 'localhost:4317';

export interface ExportQueueOptions {
  /** Longest a span waits in the queue before its batch is sent (BatchSpanProcessor
   *  scheduledDelayMillis; the kubelet's Go SDK default is 5 s). */
  exportDelayMs: number;
  /** Spans queued per endpoint before new ones are dropped (the queue is bounded). */
  maxQueueSize: number;
  maxExportBatchSize: number;
  /** gRPC deadline of one export (the Go exporter's default is 10 s). */
  exportTimeoutMs: number;
}

export interface EndpointStats {
  endpoint: string;
  /** Kubelets now exporting here. */
  kubelets: number;
  /** Spans handed to the queue; those neither exported nor failed are queued, or were dropped
   *  when the queue was full. */
  enqueued: number;
  exported: number;
  failed: number;
  lastError?: string;
}

const TRACE_EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/** An OTLP/gRPC span exporter dialling `target` as gRPC reads it, plaintext as the kubelet's (WithInsecure). */
export function kubeletOtlpExporter(target: string, timeoutMillis: number): SpanExporter {
  if (/^unix-abstract:/i.test(target)) registerUnixAbstract();
  const delegate = createOtlpGrpcExportDelegate(
    {
      url: target,
      timeoutMillis,
      concurrencyLimit: 30,
      compression: 'none',
      metadata: () => new grpc.Metadata(),
      credentials: () => grpc.credentials.createInsecure(),
    },
    ProtobufTraceSerializer,
    'otlp_grpc_span_exporter',
    TraceExporterMetricsHelper,
    undefined,
    'TraceExportService',
    TRACE_EXPORT_PATH,
  );
  return new OTLPExporterBase<ReadableSpan[]>(delegate);
}

/** One endpoint's exporter and queue, with its delivery counts. */
export class EndpointExport {
  kubelets = 0;
  enqueued = 0;
  exported = 0;
  failed = 0;
  lastError: string | undefined;
  private readonly processor: BatchSpanProcessor;

  constructor(
    readonly endpoint: string,
    o: ExportQueueOptions,
    /** What the owner files it under (the endpoint, unless exporters are per kubelet). */
    readonly key = endpoint,
  ) {
    const otlp = kubeletOtlpExporter(endpoint, o.exportTimeoutMs);
    const counting: SpanExporter = {
      export: (spans, done) =>
        otlp.export(spans, (result) => {
          if (result.code === ExportResultCode.SUCCESS) this.exported += spans.length;
          else {
            this.failed += spans.length;
            this.lastError = result.error?.message ?? 'export failed';
          }
          done(result);
        }),
      shutdown: () => otlp.shutdown(),
      forceFlush: () => otlp.forceFlush?.() ?? Promise.resolve(),
    };
    this.processor = new BatchSpanProcessor(counting, {
      scheduledDelayMillis: o.exportDelayMs,
      maxQueueSize: o.maxQueueSize,
      maxExportBatchSize: Math.min(o.maxExportBatchSize, o.maxQueueSize),
      exportTimeoutMillis: o.exportTimeoutMs,
    });
  }

  enqueue(span: ReadableSpan): void {
    this.enqueued++;
    this.processor.onEnd(span);
  }

  flush(): Promise<void> {
    return this.processor.forceFlush();
  }

  /** Sends what is queued, then closes the gRPC channel. */
  shutdown(): Promise<void> {
    return this.processor.shutdown();
  }

  stats(): EndpointStats {
    return { endpoint: this.endpoint, kubelets: this.kubelets, enqueued: this.enqueued, exported: this.exported, failed: this.failed, ...(this.lastError !== undefined ? { lastError: this.lastError } : {}) };
  }
}
