// An OTLP trace receiver, as a collector's otlp receiver is: gRPC TraceService/Export (default
// port 4317 in real life) and OTLP/HTTP POST /v1/traces accepting protobuf and JSON (4318). It
// decodes every request into spans with their resource, keeps the latest ones for queries, and
// hands each batch to listeners. The tests export to it with the real OTel exporters; `kto demo`
// can embed it to show the spans arriving.
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';
import { Server as GrpcServer, ServerCredentials, status as grpcStatus, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition } from '@grpc/grpc-js';
import { registerUnixAbstract } from '../grpc-naming.js';
import { TRACE_SERVICE, traceService } from './proto.js';
import { type AttrValue, type ExportTraceServiceRequest, type Protocol, type ReceivedSpan, spansOf } from './spans.js';

export interface OtlpReceiverOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** gRPC port (0: a free one; null: no gRPC server). Default 0. */
  grpcPort?: number | null;
  /** Bind gRPC to this target instead of host:grpcPort: unix:///path, unix:/path or
   *  unix-abstract:///name (the socket forms a kubelet's tracing endpoint may take). */
  grpcTarget?: string;
  /** OTLP/HTTP port (0: a free one; null: no HTTP server). Default 0. */
  httpPort?: number | null;
  /** Spans kept for queries, oldest dropped first; listeners see every span. Default 100,000. */
  maxSpans?: number;
  /** Largest request body accepted over HTTP (413 above it). Default 16 MiB. */
  maxBodyBytes?: number;
  onSpans?: SpanListener;
  /** Extra read-only routes on the HTTP server: GET path -> a JSON body (e.g. a span tally). */
  routes?: Record<string, () => unknown>;
}

export type SpanListener = (spans: readonly ReceivedSpan[], protocol: Protocol) => void;

export interface SpanFilter {
  service?: string;
  name?: string | RegExp;
  protocol?: Protocol;
  /** Every listed resource attribute must be equal. */
  resource?: Record<string, AttrValue>;
  /** Every listed span attribute must be equal. */
  attributes?: Record<string, AttrValue>;
}

export function matches(s: ReceivedSpan, f: SpanFilter = {}): boolean {
  if (f.service !== undefined && s.service !== f.service) return false;
  if (f.protocol !== undefined && s.protocol !== f.protocol) return false;
  if (f.name !== undefined && !(typeof f.name === 'string' ? s.name === f.name : f.name.test(s.name))) return false;
  for (const [k, v] of Object.entries(f.resource ?? {})) if (s.resource[k] !== v) return false;
  for (const [k, v] of Object.entries(f.attributes ?? {})) if (s.attributes[k] !== v) return false;
  return true;
}

const JSON_TYPE = 'application/json';
const PROTOBUF_TYPE = 'application/x-protobuf';

export class OtlpReceiver {
  /** Requests served per protocol (successful exports only). */
  readonly requests: Record<Protocol, number> = { grpc: 0, 'http/protobuf': 0, 'http/json': 0 };
  /** Spans received since start, including those no longer kept. */
  received = 0;
  private kept: ReceivedSpan[] = [];
  private readonly listeners = new Set<SpanListener>();
  private grpc: GrpcServer | undefined;
  private http: HttpServer | undefined;
  private grpcBound = 0;
  private httpBound = 0;

  private constructor(private readonly o: Required<Omit<OtlpReceiverOptions, 'onSpans' | 'grpcTarget'>> & Pick<OtlpReceiverOptions, 'grpcTarget'>) {}

  static async start(o: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
    const r = new OtlpReceiver({
      host: o.host ?? '127.0.0.1',
      grpcPort: o.grpcPort === undefined ? 0 : o.grpcPort,
      grpcTarget: o.grpcTarget,
      httpPort: o.httpPort === undefined ? 0 : o.httpPort,
      maxSpans: o.maxSpans ?? 100_000,
      maxBodyBytes: o.maxBodyBytes ?? 16 << 20,
      routes: o.routes ?? {},
    });
    if (o.onSpans) r.listeners.add(o.onSpans);
    try {
      if (r.o.grpcPort !== null) await r.startGrpc(r.o.grpcPort);
      if (r.o.httpPort !== null) await r.startHttp(r.o.httpPort);
    } catch (err) {
      await r.stop();
      throw err;
    }
    return r;
  }

  /** The gRPC port (0 when not serving gRPC). */
  get grpcPort(): number {
    return this.grpcBound;
  }

  /** The OTLP/HTTP port (0 when not serving HTTP). */
  get httpPort(): number {
    return this.httpBound;
  }

  /** For an exporter's endpoint setting: http://host:port of the gRPC server. */
  get grpcEndpoint(): string {
    return `http://${this.urlHost()}:${this.grpcBound}`;
  }

  /** What a kubelet's tracing.endpoint names this receiver by: host:port, or the socket target. */
  get kubeletEndpoint(): string {
    return this.o.grpcTarget ?? `${this.urlHost()}:${this.grpcBound}`;
  }

  /** For an exporter's endpoint setting: http://host:port of the HTTP server (base, no /v1/traces). */
  get httpEndpoint(): string {
    return `http://${this.urlHost()}:${this.httpBound}`;
  }

  /** The spans kept (the latest maxSpans), oldest first. */
  spans(filter?: SpanFilter): ReceivedSpan[] {
    return filter ? this.kept.filter((s) => matches(s, filter)) : [...this.kept];
  }

  count(filter?: SpanFilter): number {
    if (!filter) return this.kept.length;
    let n = 0;
    for (const s of this.kept) if (matches(s, filter)) n++;
    return n;
  }

  /** Kept spans counted by a key, e.g. `(s) => String(s.resource['k8s.node.name'])`; undefined keys are skipped. */
  countBy(key: (s: ReceivedSpan) => string | undefined, filter?: SpanFilter): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.kept) {
      if (filter && !matches(s, filter)) continue;
      const k = key(s);
      if (k !== undefined) out.set(k, (out.get(k) ?? 0) + 1);
    }
    return out;
  }

  /** Subscribes to every batch as it arrives; returns the unsubscribe function. */
  onSpans(fn: SpanListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Resolves once `done()` holds, checked now and after each batch; rejects after timeoutMs. */
  waitFor(what: string, done: () => boolean, timeoutMs = 10_000): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`OTLP receiver: timed out after ${timeoutMs} ms waiting for ${what} (${this.received} spans received)`));
      }, timeoutMs);
      const off = this.onSpans(() => {
        if (!done()) return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }

  /** Forgets the kept spans and the counts. */
  reset(): void {
    this.kept = [];
    this.received = 0;
    for (const p of Object.keys(this.requests) as Protocol[]) this.requests[p] = 0;
  }

  async stop(): Promise<void> {
    const grpc = this.grpc;
    const http = this.http;
    this.grpc = undefined;
    this.http = undefined;
    this.listeners.clear();
    // Exporters keep their gRPC channel open: do not wait for them to hang up.
    grpc?.forceShutdown();
    if (http) {
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    }
  }

  private urlHost(): string {
    const h = this.o.host === '0.0.0.0' || this.o.host === '::' ? '127.0.0.1' : this.o.host;
    return h.includes(':') ? `[${h}]` : h;
  }

  private accept(req: ExportTraceServiceRequest, protocol: Protocol): void {
    const spans = spansOf(req, protocol);
    this.requests[protocol]++;
    this.received += spans.length;
    this.kept.push(...spans);
    if (this.kept.length > this.o.maxSpans) this.kept.splice(0, this.kept.length - this.o.maxSpans);
    for (const fn of [...this.listeners]) fn(spans, protocol);
  }

  private async startGrpc(port: number): Promise<void> {
    const svc = traceService();
    const server = new GrpcServer();
    server.addService(svc.definition[TRACE_SERVICE] as ServiceDefinition, {
      Export: (call: ServerUnaryCall<ExportTraceServiceRequest, object>, done: sendUnaryData<object>) => {
        try {
          this.accept(call.request, 'grpc');
          done(null, {});
        } catch (err) {
          done({ code: grpcStatus.INVALID_ARGUMENT, details: err instanceof Error ? err.message : String(err) });
        }
      },
    });
    if (this.o.grpcTarget?.startsWith('unix-abstract:')) registerUnixAbstract();
    this.grpcBound = await new Promise<number>((resolve, reject) => {
      server.bindAsync(this.o.grpcTarget ?? `${this.urlHost()}:${port}`, ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
    });
    this.grpc = server;
  }

  private async startHttp(port: number): Promise<void> {
    const server = createServer((req, res) => this.handleHttp(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.httpBound = (server.address() as AddressInfo).port;
    this.http = server;
  }

  private handleHttp(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const route = Object.hasOwn(this.o.routes, path) ? this.o.routes[path] : undefined;
    if (route && (req.method === 'GET' || req.method === 'HEAD')) return void reply(res, 200, JSON_TYPE, `${JSON.stringify(route(), null, 2)}\n`);
    if (path !== '/v1/traces') return void reply(res, 404, 'text/plain', `${path}: not found (OTLP/HTTP traces are POSTed to /v1/traces)\n`);
    if (req.method !== 'POST') return void reply(res, 405, 'text/plain', 'method not allowed: POST\n', { allow: 'POST' });
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (type !== PROTOBUF_TYPE && type !== JSON_TYPE) {
      return void reply(res, 415, 'text/plain', `content-type "${type}" is not OTLP (want ${PROTOBUF_TYPE} or ${JSON_TYPE})\n`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= this.o.maxBodyBytes) chunks.push(c);
    });
    req.on('end', () => {
      if (size > this.o.maxBodyBytes) return void reply(res, 413, 'text/plain', `body over ${this.o.maxBodyBytes} bytes\n`);
      const protocol: Protocol = type === JSON_TYPE ? 'http/json' : 'http/protobuf';
      let decoded: ExportTraceServiceRequest;
      try {
        const body = decompress(Buffer.concat(chunks), req.headers['content-encoding']);
        decoded = protocol === 'http/json' ? (JSON.parse(body.toString('utf8')) as ExportTraceServiceRequest) : traceService().decodeRequest(body);
        this.accept(decoded, protocol);
      } catch (err) {
        // OTLP/HTTP: a malformed request is 400 and must not be retried.
        const message = err instanceof Error ? err.message : String(err);
        return void (protocol === 'http/json' ? reply(res, 400, JSON_TYPE, JSON.stringify({ code: 3, message })) : reply(res, 400, 'text/plain', `${message}\n`));
      }
      // An empty ExportTraceServiceResponse: everything accepted.
      if (protocol === 'http/json') reply(res, 200, JSON_TYPE, '{}');
      else reply(res, 200, PROTOBUF_TYPE, traceService().encodeResponse({}));
    });
  }
}

function decompress(body: Buffer, encoding: string | undefined): Buffer {
  switch ((encoding ?? 'identity').toLowerCase()) {
    case 'identity':
      return body;
    case 'gzip':
      return gunzipSync(body);
    case 'deflate':
      return inflateSync(body);
    default:
      throw new Error(`content-encoding "${encoding}" is not supported (gzip, deflate)`);
  }
}

function reply(res: ServerResponse, code: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(code, { 'content-type': type, ...headers });
  res.end(body);
}
