// The OTLP TraceService, loaded from the upstream .proto files in proto/ (copied verbatim from
// opentelemetry-proto) by @grpc/proto-loader: one definition serves the gRPC server and decodes
// OTLP/HTTP protobuf bodies, so no wire format is hand-written here.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadSync, type MethodDefinition, type PackageDefinition } from '@grpc/proto-loader';
import type { ExportTraceServiceRequest } from './spans.js';

export const TRACE_SERVICE = 'opentelemetry.proto.collector.trace.v1.TraceService';
const TRACE_SERVICE_PROTO = 'opentelemetry/proto/collector/trace/v1/trace_service.proto';

/** proto/ sits at the package root: three levels up from src/sim/collector and dist/sim/collector. */
export const PROTO_DIR = fileURLToPath(new URL('../../../proto/', import.meta.url));

export interface TraceServiceDefinition {
  /** The package definition, for grpc-js's Server.addService. */
  readonly definition: PackageDefinition;
  readonly export: MethodDefinition<ExportTraceServiceRequest, object>;
  /** Decodes a binary ExportTraceServiceRequest; throws on malformed input. */
  decodeRequest(body: Buffer): ExportTraceServiceRequest;
  /** Encodes an (empty) ExportTraceServiceResponse. */
  encodeResponse(response: object): Buffer;
}

let loaded: TraceServiceDefinition | undefined;

export function traceService(): TraceServiceDefinition {
  if (loaded) return loaded;
  if (!existsSync(`${PROTO_DIR}${TRACE_SERVICE_PROTO}`)) throw new Error(`OTLP protos not found under ${PROTO_DIR} (the package ships proto/)`);
  const definition = loadSync(TRACE_SERVICE_PROTO, {
    includeDirs: [PROTO_DIR],
    // The field names of OTLP/JSON, 64-bit integers as decimal strings (no precision lost on
    // nanosecond timestamps), enums as numbers, bytes as Buffers; absent fields stay absent.
    keepCase: false,
    longs: String,
    enums: Number,
    defaults: false,
    oneofs: false,
  });
  const service = definition[TRACE_SERVICE] as Record<string, MethodDefinition<ExportTraceServiceRequest, object>> | undefined;
  const method = service?.Export;
  if (!method) throw new Error(`${TRACE_SERVICE}/Export missing from ${TRACE_SERVICE_PROTO}`);
  loaded = {
    definition,
    export: method,
    decodeRequest: (body) => method.requestDeserialize(body),
    encodeResponse: (response) => method.responseSerialize(response),
  };
  return loaded;
}
