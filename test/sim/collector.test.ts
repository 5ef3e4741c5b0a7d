// The embedded OTLP receiver (src/sim/collector), fed by the real OpenTelemetry exporters of each
// protocol through startTracing: spans keep their attributes, resource and parentage; the
// protocol and endpoint come from the flags or the OTEL_* variables; OTLP/HTTP refuses what a
// collector refuses; the query API counts what arrived.
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, afterEach, before, describe, test } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OtlpReceiver, type Protocol } from '../../src/sim/collector/index.js';
import { Registry } from '../../src/telemetry/metrics.js';
import { startTracing, type TracingOptions } from '../../src/telemetry/tracing.js';
import { VERSION } from '../../src/version.js';

const OTEL_VARS = Object.keys(process.env).filter((k) => k.startsWith('OTEL_'));
for (const k of OTEL_VARS) delete process.env[k]; // the machine's own settings must not leak in

/** Sets OTEL_* variables for one test; afterEach puts the environment back. */
function setEnv(vars: Record<string, string>): void {
  Object.assign(process.env, vars);
}
function clearEnv(): void {
  for (const k of Object.keys(process.env)) if (k.startsWith('OTEL_')) delete process.env[k];
}

/** Exports a small trace (a server span with a client child) and flushes it. */
async function exportTrace(o: Omit<TracingOptions, 'service' | 'registry'>, warnings: string[] = []): Promise<{ traceId: string; target: string }> {
  const t = startTracing({ service: 'kubelet-tracing-controller', registry: new Registry(), queue: { scheduledDelayMillis: 10 }, warn: (m) => warnings.push(m), ...o });
  assert.ok(t.enabled, 'tracing is on');
  let traceId = '';
  t.tracer.startActiveSpan('parent', { kind: SpanKind.SERVER, attributes: { 'k8s.node.name': 'node-7', 'kto.count': 3, 'kto.ratio': 0.5, 'kto.ok': true, 'kto.list': ['a', 'b'] } }, (parent) => {
    traceId = parent.spanContext().traceId;
    const child = t.tracer.startSpan('child', { kind: SpanKind.CLIENT });
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'refused' });
    child.end();
    parent.end();
  });
  await t.shutdown(5_000);
  return { traceId, target: `${t.target?.protocol} ${t.target?.url}` };
}

describe('OTLP receiver fed by the OpenTelemetry exporters', () => {
  let r: OtlpReceiver;
  before(async () => {
    r = await OtlpReceiver.start();
  });
  after(async () => {
    await r.stop();
  });
  afterEach(() => {
    clearEnv();
    r.reset();
  });

  for (const protocol of ['grpc', 'http/protobuf', 'http/json'] as const satisfies readonly Protocol[]) {
    test(`${protocol}: spans decoded with attributes, kind, status, parent and resource`, async () => {
      setEnv({ OTEL_RESOURCE_ATTRIBUTES: 'k8s.pod.name=kto-controller-abc,k8s.namespace.name=kto-system,k8s.node.name=node-7' });
      const endpoint = protocol === 'grpc' ? r.grpcEndpoint : r.httpEndpoint;
      const { traceId } = await exportTrace({ endpoint, protocol });
      await r.waitFor('2 spans', () => r.count() === 2);
      assert.equal(r.requests[protocol], 1);
      const parent = r.spans({ name: 'parent' })[0];
      const child = r.spans({ name: 'child' })[0];
      assert.ok(parent && child);
      assert.equal(parent.protocol, protocol);
      assert.equal(parent.traceId, traceId);
      assert.equal(parent.parentSpanId, '');
      assert.equal(child.parentSpanId, parent.spanId);
      assert.equal(child.traceId, traceId);
      assert.match(parent.spanId, /^[0-9a-f]{16}$/);
      assert.equal(parent.kind, 2); // SERVER
      assert.equal(child.kind, 3); // CLIENT
      assert.deepEqual(parent.attributes, { 'k8s.node.name': 'node-7', 'kto.count': 3, 'kto.ratio': 0.5, 'kto.ok': true, 'kto.list': ['a', 'b'] });
      assert.equal(child.statusCode, 2);
      assert.equal(child.statusMessage, 'refused');
      assert.ok(parent.startNs > 1_600_000_000_000_000_000n && parent.endNs >= parent.startNs, 'nanosecond timestamps, not rounded');
      assert.equal(parent.service, 'kubelet-tracing-controller');
      assert.equal(parent.scope, 'kubelet-tracing-operator');
      for (const [k, v] of Object.entries({ 'service.version': VERSION, 'k8s.pod.name': 'kto-controller-abc', 'k8s.namespace.name': 'kto-system', 'k8s.node.name': 'node-7', 'telemetry.sdk.language': 'nodejs' })) {
        assert.equal(parent.resource[k], v, k);
      }
    });
  }

  test('the protocol and endpoint from the environment: OTEL_EXPORTER_OTLP_PROTOCOL=grpc with a host:port endpoint', async () => {
    // No scheme: TLS unless OTEL_EXPORTER_OTLP_INSECURE says otherwise (the OTLP exporter spec).
    setEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: `127.0.0.1:${r.grpcPort}`, OTEL_EXPORTER_OTLP_INSECURE: 'true' });
    const { target } = await exportTrace({});
    assert.equal(target, `grpc 127.0.0.1:${r.grpcPort}`);
    await r.waitFor('2 spans', () => r.count({ protocol: 'grpc' }) === 2);
  });

  test('the traces variables win over the generic ones', async () => {
    setEnv({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${r.httpEndpoint}/v1/traces`,
    });
    await exportTrace({});
    await r.waitFor('2 spans', () => r.count({ protocol: 'http/json' }) === 2);
    assert.equal(r.requests.grpc, 0);
  });

  test('no protocol anywhere: http/protobuf, the spec default', async () => {
    const { target } = await exportTrace({ endpoint: r.httpEndpoint });
    assert.equal(target, `http/protobuf ${r.httpEndpoint}/v1/traces`);
    await r.waitFor('2 spans', () => r.count({ protocol: 'http/protobuf' }) === 2);
  });

  test('malformed OTEL_ variables warn and are ignored: tracing starts with the defaults', async () => {
    setEnv({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'carrier-pigeon',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url',
      OTEL_EXPORTER_OTLP_ENDPOINT: r.httpEndpoint,
      OTEL_BSP_MAX_QUEUE_SIZE: 'lots',
      OTEL_EXPORTER_OTLP_TIMEOUT: '-5',
      OTEL_RESOURCE_ATTRIBUTES: 'k8s.pod.name=a=b',
    });
    const warnings: string[] = [];
    const { target } = await exportTrace({}, warnings);
    assert.equal(target, `http/protobuf ${r.httpEndpoint}/v1/traces`);
    await r.waitFor('2 spans', () => r.count() === 2);
    for (const v of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_BSP_MAX_QUEUE_SIZE', 'OTEL_EXPORTER_OTLP_TIMEOUT', 'OTEL_RESOURCE_ATTRIBUTES']) {
      assert.ok(warnings.some((w) => w.startsWith(`${v}:`)), `no warning for ${v}: ${warnings.join(' | ')}`);
    }
    assert.equal(r.spans()[0]?.resource['k8s.pod.name'], undefined, 'a malformed OTEL_RESOURCE_ATTRIBUTES is dropped whole');
  });

  test('a bad flag is an error, not a warning', () => {
    assert.throws(() => startTracing({ service: 'kubelet-tracing-agent', endpoint: 'http://c:4317/v1/traces', protocol: 'grpc' }), /--otlp-endpoint: a gRPC endpoint has no path/);
    assert.throws(() => startTracing({ service: 'kubelet-tracing-agent', endpoint: 'c:4318', protocol: 'http/protobuf' }), /--otlp-endpoint: "c:4318" is not a URL/);
    assert.throws(() => startTracing({ service: 'kubelet-tracing-agent', endpoint: 'http://c:4318', protocol: 'thrift' }), /--otlp-protocol: "thrift"/);
  });
});

describe('OTLP/HTTP: what a collector refuses', () => {
  let r: OtlpReceiver;
  const post = (body: string | Buffer, headers: Record<string, string>, path = '/v1/traces') => fetch(`${r.httpEndpoint}${path}`, { method: 'POST', headers, body });
  before(async () => {
    r = await OtlpReceiver.start({ grpcPort: null });
  });
  after(async () => {
    await r.stop();
  });

  test('only POST /v1/traces, only protobuf or JSON', async () => {
    assert.equal((await fetch(`${r.httpEndpoint}/v1/traces`)).status, 405);
    assert.equal((await post('{}', { 'content-type': 'application/json' }, '/v1/metrics')).status, 404);
    assert.equal((await post('{}', { 'content-type': 'text/plain' })).status, 415);
    assert.equal(r.grpcPort, 0, 'no gRPC server when grpcPort is null');
  });

  test('a malformed body is 400 (not retried by exporters); nothing is recorded', async () => {
    assert.equal((await post(Buffer.from([0x0a, 0xff, 0xff, 0xff]), { 'content-type': 'application/x-protobuf' })).status, 400);
    const bad = await post('{"resourceSpans": [', { 'content-type': 'application/json' });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { code: number }).code, 3); // INVALID_ARGUMENT
    assert.equal(r.received, 0);
  });

  test('gzip JSON with hex ids, string enums and int64 strings, as the OTLP/JSON spec allows', async () => {
    const body = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'kubelet' } }, { key: 'k8s.node.name', value: { stringValue: 'node-3' } }] },
          scopeSpans: [
            {
              scope: { name: 'k8s.io/kubelet' },
              spans: [
                {
                  traceId: '5B8EFFF798038103D269B633813FC60C',
                  spanId: 'EEE19B7EC3C1B174',
                  name: 'GET /pods',
                  kind: 'SPAN_KIND_SERVER',
                  startTimeUnixNano: '1544712660000000000',
                  endTimeUnixNano: '1544712661000000000',
                  attributes: [{ key: 'http.response.status_code', value: { intValue: '200' } }],
                  status: { code: 'STATUS_CODE_OK' },
                },
              ],
            },
          ],
        },
      ],
    };
    const res = await post(gzipSync(JSON.stringify(body)), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
    const [s] = r.spans();
    assert.ok(s);
    assert.deepEqual(
      { service: s.service, node: s.resource['k8s.node.name'], traceId: s.traceId, spanId: s.spanId, kind: s.kind, status: s.statusCode, code: s.attributes['http.response.status_code'], start: s.startNs },
      { service: 'kubelet', node: 'node-3', traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', kind: 2, status: 1, code: 200, start: 1544712660000000000n },
    );
  });

  test('a protobuf request gets a protobuf response', async () => {
    const res = await post(Buffer.alloc(0), { 'content-type': 'application/x-protobuf' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-protobuf');
    assert.equal((await res.arrayBuffer()).byteLength, 0); // an empty ExportTraceServiceResponse
  });
});

describe('OTLP receiver: queries, listeners, bounds', () => {
  test('countBy a resource attribute, onSpans and its unsubscribe, maxSpans keeps the newest', async () => {
    const r = await OtlpReceiver.start({ grpcPort: null, maxSpans: 3 });
    try {
      const batches: number[] = [];
      const off = r.onSpans((spans) => batches.push(spans.length));
      const send = (node: string, names: string[]) =>
        fetch(`${r.httpEndpoint}/v1/traces`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'kubelet' } }, { key: 'k8s.node.name', value: { stringValue: node } }] }, scopeSpans: [{ spans: names.map((name, i) => ({ traceId: '01'.repeat(16), spanId: `0${i + 1}`.repeat(8), name, startTimeUnixNano: '1', endTimeUnixNano: '2' })) }] }],
          }),
        });
      await send('node-1', ['a', 'b']);
      await send('node-2', ['c']);
      assert.deepEqual([...r.countBy((s) => String(s.resource['k8s.node.name']))], [['node-1', 2], ['node-2', 1]]);
      assert.equal(r.count({ service: 'kubelet', resource: { 'k8s.node.name': 'node-1' } }), 2);
      assert.equal(r.count({ name: /^[ab]$/ }), 2);
      off();
      await send('node-3', ['d', 'e']);
      assert.deepEqual(batches, [2, 1], 'no batch after unsubscribing');
      assert.equal(r.received, 5);
      assert.deepEqual(r.spans().map((s) => s.name), ['c', 'd', 'e'], 'the newest 3 kept');
    } finally {
      await r.stop();
    }
  });

  test('waitFor rejects with what it waited for; stop frees both ports', async () => {
    const r = await OtlpReceiver.start();
    const { grpcPort, httpPort } = r;
    assert.ok(grpcPort > 0 && httpPort > 0 && grpcPort !== httpPort);
    await assert.rejects(r.waitFor('a span that never comes', () => r.count() > 0, 50), /timed out after 50 ms waiting for a span that never comes/);
    await r.stop();
    await assert.rejects(fetch(`http://127.0.0.1:${httpPort}/v1/traces`, { method: 'POST' }));
    const again = await OtlpReceiver.start({ grpcPort, httpPort });
    await again.stop();
  });
});
