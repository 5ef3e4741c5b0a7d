// Where and how spans go, from the command-line flags and the standard OTEL_* variables. Pure:
// the environment is an argument, and problems come back as warnings (the OpenTelemetry spec: a
// malformed variable is reported and treated as unset; start-up goes on). Only a bad *flag*
// throws, as a usage error.
//
// Endpoints follow the OTLP exporter spec, per protocol:
//  - http/protobuf, http/json: OTEL_EXPORTER_OTLP_ENDPOINT is a base URL and /v1/traces is
//    appended; OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as it is.
//  - grpc: either variable is http(s)://host:port (http: plaintext, https: TLS) or host:port (TLS
//    unless OTEL_EXPORTER_OTLP_[TRACES_]INSECURE=true); a gRPC endpoint has no path.
// Unlike the SDK, no endpoint at all means tracing off, not localhost: spans are opt-in here.
import type { BufferConfig } from '@opentelemetry/sdk-trace-node';

export const OTLP_PROTOCOLS = ['grpc', 'http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];
/** The spec's default. */
export const DEFAULT_PROTOCOL: OtlpProtocol = 'http/protobuf';

/** The bounded batch processor we run with when OTEL_BSP_* do not say otherwise. */
export const DEFAULT_QUEUE: Required<BufferConfig> = {
  maxQueueSize: 2048,
  maxExportBatchSize: 512,
  scheduledDelayMillis: 500,
  exportTimeoutMillis: 5000,
};

/**
 * Each batch's export (with the exporter's own retries) gives up after this, unless
 * OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT says otherwise. Short on purpose (the spec's default is
 * 10 s): a refused connection is retried once, not for seconds, so a dead collector neither holds
 * the last flush nor keeps the process alive after shutdown. The processor's exportTimeoutMillis
 * stays the backstop.
 */
export const EXPORTER_TIMEOUT_MS = 2_000;

export interface OtlpFlags {
  /** `--otlp-endpoint` */
  endpoint?: string;
  /** `--otlp-protocol` */
  protocol?: string;
}

export interface OtlpTarget {
  protocol: OtlpProtocol;
  /** What the exporter is given: the full traces URL (http/*) or the gRPC endpoint. */
  url: string;
}

export interface OtelSettings {
  /** undefined: tracing off. */
  target: OtlpTarget | undefined;
  timeoutMillis: number;
  queue: Required<BufferConfig>;
  warnings: string[];
}

/** A bad --otlp-endpoint / --otlp-protocol: the CLI exits 2 with this message. */
export class OtlpFlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OtlpFlagError';
  }
}

type Env = Record<string, string | undefined>;

export function otelSettings(flags: OtlpFlags, env: Env): OtelSettings {
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  const protocol = resolveProtocol(flags.protocol, env, warn);
  const target = resolveTarget(flags.endpoint, protocol, env, warn);
  const timeoutMillis = positiveInt(env, 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', warn) ?? positiveInt(env, 'OTEL_EXPORTER_OTLP_TIMEOUT', warn) ?? EXPORTER_TIMEOUT_MS;
  const queue = batchConfig(env, warn);
  checkResourceAttributes(env, warn);
  return { target, timeoutMillis, queue, warnings };
}

function resolveProtocol(flag: string | undefined, env: Env, warn: (m: string) => void): OtlpProtocol {
  if (flag !== undefined && flag !== '') {
    if (isProtocol(flag)) return flag;
    throw new OtlpFlagError(`--otlp-protocol: "${flag}" is not one of ${OTLP_PROTOCOLS.join(', ')}`);
  }
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const v = env[name]?.trim();
    if (!v) continue;
    if (isProtocol(v)) return v;
    warn(`${name}: "${v}" is not one of ${OTLP_PROTOCOLS.join(', ')}; ignored`);
  }
  return DEFAULT_PROTOCOL;
}

function isProtocol(v: string): v is OtlpProtocol {
  return (OTLP_PROTOCOLS as readonly string[]).includes(v);
}

function resolveTarget(flag: string | undefined, protocol: OtlpProtocol, env: Env, warn: (m: string) => void): OtlpTarget | undefined {
  if (flag !== undefined && flag !== '') {
    const r = endpoint(flag, protocol, 'flag');
    if ('error' in r) throw new OtlpFlagError(`--otlp-endpoint: ${r.error}`);
    return { protocol, url: r.url };
  }
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((x) => x.trim().toLowerCase()).filter(Boolean);
  if (exporters.includes('none')) return undefined;
  const unsupported = exporters.filter((x) => x !== 'otlp');
  if (unsupported.length > 0) warn(`OTEL_TRACES_EXPORTER: only "otlp" and "none" are supported; ${unsupported.map((x) => `"${x}"`).join(', ')} ignored`);
  const sources: Array<[string, 'signal' | 'base']> = [
    ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'signal'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'base'],
  ];
  for (const [name, kind] of sources) {
    const raw = env[name]?.trim();
    if (!raw) continue;
    const r = endpoint(raw, protocol, kind);
    if ('error' in r) {
      warn(`${name}: ${r.error}; ignored`);
      continue;
    }
    if (r.warning) warn(`${name}: ${r.warning}`);
    return { protocol, url: r.url };
  }
  return undefined;
}

type EndpointResult = { url: string; warning?: string } | { error: string };

/**
 * One endpoint setting read for `protocol`. `flag`: --otlp-endpoint (a base URL or the full
 * /v1/traces URL for http/*; strict); `signal`: the traces variable (as it is); `base`: the
 * generic variable (/v1/traces appended for http/*).
 */
export function endpoint(raw: string, protocol: OtlpProtocol, kind: 'flag' | 'signal' | 'base'): EndpointResult {
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw);
  if (protocol === 'grpc') {
    const u = parse(hasScheme ? raw : `http://${raw}`);
    if (!u || u.hostname === '') return { error: `"${raw}" is not a gRPC endpoint (want http://host:4317, https://host:4317 or host:4317)` };
    if (hasScheme && u.protocol !== 'http:' && u.protocol !== 'https:') return { error: `scheme "${u.protocol.slice(0, -1)}" is not OTLP/gRPC (want http:// for plaintext, https:// for TLS)` };
    const path = u.pathname === '/' ? '' : u.pathname;
    if (path === '') return { url: raw.replace(/\/+$/, '') };
    const msg = `a gRPC endpoint has no path ("${path}"): the service is at /opentelemetry.proto.collector.trace.v1.TraceService/Export on host:port`;
    if (kind === 'flag') return { error: msg };
    return { url: `${hasScheme ? `${u.protocol}//` : ''}${u.host}`, warning: `${msg}; the path is ignored` };
  }
  const u = hasScheme ? parse(raw) : undefined;
  if (!u) return { error: `"${raw}" is not a URL (want http://host:4318 for ${protocol})` };
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return { error: `scheme "${u.protocol.slice(0, -1)}" is not OTLP/HTTP (want http:// or https://)` };
  if (kind === 'signal') return { url: raw };
  if (kind === 'flag' && /\/v1\/traces\/?$/.test(u.pathname)) return { url: raw };
  return { url: `${raw.replace(/\/+$/, '')}/v1/traces` };
}

function parse(raw: string): URL | undefined {
  try {
    return new URL(raw);
  } catch {
    return undefined;
  }
}

/** OTEL_BSP_*: each one that is set and valid wins over our bounded default. */
export function batchConfig(env: Env, warn: (m: string) => void): Required<BufferConfig> {
  const q: Required<BufferConfig> = {
    maxQueueSize: positiveInt(env, 'OTEL_BSP_MAX_QUEUE_SIZE', warn) ?? DEFAULT_QUEUE.maxQueueSize,
    maxExportBatchSize: positiveInt(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', warn) ?? DEFAULT_QUEUE.maxExportBatchSize,
    scheduledDelayMillis: nonNegativeInt(env, 'OTEL_BSP_SCHEDULE_DELAY', warn) ?? DEFAULT_QUEUE.scheduledDelayMillis,
    exportTimeoutMillis: positiveInt(env, 'OTEL_BSP_EXPORT_TIMEOUT', warn) ?? DEFAULT_QUEUE.exportTimeoutMillis,
  };
  if (q.maxExportBatchSize > q.maxQueueSize) {
    warn(`OTEL_BSP_MAX_EXPORT_BATCH_SIZE: ${q.maxExportBatchSize} is over the queue size (${q.maxQueueSize}); using ${q.maxQueueSize}`);
    q.maxExportBatchSize = q.maxQueueSize;
  }
  return q;
}

function integer(env: Env, name: string, min: number, warn: (m: string) => void): number | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (/^\d+$/.test(raw) && Number.isSafeInteger(n) && n >= min) return n;
  warn(`${name}: "${raw}" is not a whole number >= ${min}; ignored`);
  return undefined;
}

const positiveInt = (env: Env, name: string, warn: (m: string) => void) => integer(env, name, 1, warn);
const nonNegativeInt = (env: Env, name: string, warn: (m: string) => void) => integer(env, name, 0, warn);

/**
 * The SDK's env detector drops a malformed OTEL_RESOURCE_ATTRIBUTES whole and says so only at
 * debug level; the same rules (key=value pairs, ',' and '=' percent-encoded) checked here, loudly.
 */
function checkResourceAttributes(env: Env, warn: (m: string) => void): void {
  const raw = env.OTEL_RESOURCE_ATTRIBUTES;
  if (!raw) return;
  for (const entry of raw.split(',').filter((x) => x.trim() !== '')) {
    const kv = entry.split('=');
    let problem: string | undefined;
    if (kv.length !== 2) problem = 'want key=value, with "," and "=" percent-encoded';
    else if ((kv[0] ?? '').trim() === '') problem = 'empty key';
    else {
      try {
        decodeURIComponent(kv[0] ?? '');
        decodeURIComponent(kv[1] ?? '');
      } catch {
        problem = 'bad percent-encoding';
      }
    }
    if (problem) {
      warn(`OTEL_RESOURCE_ATTRIBUTES: "${entry}": ${problem}; the whole variable is ignored`);
      return;
    }
  }
}
