// The spans an OTLP receiver got, in one shape whatever the protocol: an ExportTraceServiceRequest
// decoded from protobuf (by protobufjs, from the upstream .proto files) and one parsed from
// OTLP/JSON have the same field names (lowerCamelCase); they differ only in how ids, 64-bit
// integers and enums are spelt, which is what this module evens out.

export type AttrValue = string | number | boolean | AttrValue[] | { [key: string]: AttrValue } | undefined;
export type Attributes = Record<string, AttrValue>;

export type Protocol = 'grpc' | 'http/protobuf' | 'http/json';

export interface ReceivedSpan {
  /** The resource's service.name ('' when absent). */
  service: string;
  /** Every resource attribute (service.version, k8s.node.name, ...). */
  resource: Attributes;
  /** The instrumentation scope's name. */
  scope: string;
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** SpanKind as OTLP numbers it: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Attributes;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  statusMessage: string;
  startNs: bigint;
  endNs: bigint;
  /** How it arrived. */
  protocol: Protocol;
}

/** An OTLP AnyValue, as protobufjs's toObject and OTLP/JSON both give it. */
interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number | string;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: Uint8Array | string;
}
interface KeyValue {
  key?: string;
  value?: AnyValue;
}
type Id = Uint8Array | string | undefined;
interface WireSpan {
  traceId?: Id;
  spanId?: Id;
  parentSpanId?: Id;
  name?: string;
  kind?: number | string;
  attributes?: KeyValue[];
  status?: { code?: number | string; message?: string };
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
}
export interface ExportTraceServiceRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: Array<{ scope?: { name?: string }; spans?: WireSpan[] }>;
  }>;
}

const KINDS: Record<string, number> = { SPAN_KIND_UNSPECIFIED: 0, SPAN_KIND_INTERNAL: 1, SPAN_KIND_SERVER: 2, SPAN_KIND_CLIENT: 3, SPAN_KIND_PRODUCER: 4, SPAN_KIND_CONSUMER: 5 };
const STATUS: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

function value(v: AnyValue | undefined): AttrValue {
  // OTLP/JSON bodies carry null where the protobuf types say absent.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  if (v === undefined || v === null) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  // int64: a decimal string (protobufjs with longs: String; OTLP/JSON) or a number
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return Number(v.doubleValue);
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(value);
  if (v.kvlistValue !== undefined) return attributes(v.kvlistValue.values);
  if (v.bytesValue !== undefined) return typeof v.bytesValue === 'string' ? v.bytesValue : Buffer.from(v.bytesValue).toString('base64');
  return undefined;
}

export function attributes(kvs: KeyValue[] | undefined): Attributes {
  const out: Attributes = {};
  for (const kv of kvs ?? []) if (kv.key !== undefined) out[kv.key] = value(kv.value);
  return out;
}

/** Ids: bytes in protobuf, hex in OTLP/JSON (base64, the generic proto3 JSON mapping, tolerated). */
function hexId(id: Id): string {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- null in OTLP/JSON bodies
  if (id === undefined || id === null || id === '') return '';
  if (typeof id !== 'string') return Buffer.from(id).toString('hex');
  return /^[0-9a-f]+$/i.test(id) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex');
}

/** Enums: numbers, or (proto3 JSON allows it) their names. */
function enumValue(v: number | string | undefined, names: Record<string, number>): number {
  if (v === undefined) return 0;
  return typeof v === 'number' ? v : (names[v] ?? Number(v)) || 0;
}

function nanos(v: string | number | undefined): bigint {
  return v === undefined || v === '' ? 0n : BigInt(v);
}

/** Flattens one ExportTraceServiceRequest into spans that carry their resource. */
export function spansOf(req: ExportTraceServiceRequest, protocol: Protocol): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of req.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    const service = typeof resource['service.name'] === 'string' ? resource['service.name'] : '';
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          service,
          resource,
          scope: ss.scope?.name ?? '',
          traceId: hexId(s.traceId),
          spanId: hexId(s.spanId),
          parentSpanId: hexId(s.parentSpanId),
          name: s.name ?? '',
          kind: enumValue(s.kind, KINDS),
          attributes: attributes(s.attributes),
          statusCode: enumValue(s.status?.code, STATUS),
          statusMessage: s.status?.message ?? '',
          startNs: nanos(s.startTimeUnixNano),
          endNs: nanos(s.endTimeUnixNano),
          protocol,
        });
      }
    }
  }
  return out;
}
