// otelSettings: the flags and OTEL_* variables -> protocol, endpoint, batch settings, warnings.
// Table-driven; the end-to-end checks (a real exporter per protocol into a real receiver) are in
// test/sim/collector.test.ts and test/telemetry/trace.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_QUEUE, EXPORTER_TIMEOUT_MS, otelSettings, type OtlpFlags } from '../../src/telemetry/otel-env.js';

type Env = Record<string, string>;

describe('protocol and endpoint', () => {
  const cases: Array<[string, OtlpFlags, Env, string | undefined]> = [
    ['nothing set: tracing off', {}, {}, undefined],
    ['flag, http/protobuf by default, /v1/traces appended', { endpoint: 'http://c:4318' }, {}, 'http/protobuf http://c:4318/v1/traces'],
    ['flag with the full traces URL kept', { endpoint: 'http://c:4318/v1/traces' }, {}, 'http/protobuf http://c:4318/v1/traces'],
    ['flag with a trailing slash', { endpoint: 'https://c:4318/' }, {}, 'http/protobuf https://c:4318/v1/traces'],
    ['flag wins over the variables', { endpoint: 'http://c:4318' }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318' }, 'http/protobuf http://c:4318/v1/traces'],
    ['flag wins over OTEL_SDK_DISABLED', { endpoint: 'http://c:4318' }, { OTEL_SDK_DISABLED: 'true' }, 'http/protobuf http://c:4318/v1/traces'],
    ['--otlp-protocol grpc: the endpoint as given', { endpoint: 'http://c:4317', protocol: 'grpc' }, {}, 'grpc http://c:4317'],
    ['grpc host:port', { endpoint: 'c:4317', protocol: 'grpc' }, {}, 'grpc c:4317'],
    ['grpc with a trailing slash', { endpoint: 'https://c:4317/', protocol: 'grpc' }, {}, 'grpc https://c:4317'],
    ['protocol from the environment for the flag', { endpoint: 'http://c:4317' }, { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'grpc http://c:4317'],
    ['the flag wins over the protocol variables', { endpoint: 'http://c:4318', protocol: 'http/json' }, { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' }, 'http/json http://c:4318/v1/traces'],
    ['traces protocol wins over the generic one', {}, { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318' }, 'http/json http://b:4318/v1/traces'],
    ['base variable: /v1/traces appended, even after a path', {}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318/otlp' }, 'http/protobuf http://b:4318/otlp/v1/traces'],
    ['traces variable: used as it is', {}, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:4318/custom', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318' }, 'http/protobuf http://t:4318/custom'],
    ['grpc base variable: no path appended', {}, { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4317' }, 'grpc http://b:4317'],
    ['OTEL_SDK_DISABLED=true: off', {}, { OTEL_SDK_DISABLED: 'TRUE', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318' }, undefined],
    ['OTEL_TRACES_EXPORTER=none: off', {}, { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318' }, undefined],
    ['OTEL_TRACES_EXPORTER=otlp: on', {}, { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318' }, 'http/protobuf http://b:4318/v1/traces'],
  ];
  for (const [name, flags, env, want] of cases) {
    test(name, () => {
      const s = otelSettings(flags, env);
      assert.equal(s.target ? `${s.target.protocol} ${s.target.url}` : undefined, want);
      assert.deepEqual(s.warnings, []);
    });
  }
});

describe('malformed variables: a warning naming the variable, then treated as unset', () => {
  const cases: Array<[string, Env, string | undefined, RegExp]> = [
    ['unknown protocol falls back to the generic one', { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'udp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: 'b:4317' }, 'grpc b:4317', /^OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "udp" is not one of grpc, http\/protobuf, http\/json; ignored$/],
    ['unknown protocol falls back to the default', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318' }, 'http/protobuf http://b:4318/v1/traces', /^OTEL_EXPORTER_OTLP_PROTOCOL: "http"/],
    ['a traces endpoint that is not a URL falls back to the base one', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'collector:4318', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318' }, 'http/protobuf http://b:4318/v1/traces', /^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "collector:4318" is not a URL/],
    ['a bad scheme leaves tracing off', { OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://b:4318' }, undefined, /^OTEL_EXPORTER_OTLP_ENDPOINT: scheme "ftp" is not OTLP\/HTTP/],
    ['a gRPC endpoint with a path: the path is dropped', { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:4317/v1/traces' }, 'grpc http://t:4317', /^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: a gRPC endpoint has no path \("\/v1\/traces"\).*ignored$/],
    ['an unsupported exporter name', { OTEL_TRACES_EXPORTER: 'otlp,console', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318' }, 'http/protobuf http://b:4318/v1/traces', /^OTEL_TRACES_EXPORTER: only "otlp" and "none" are supported; "console" ignored$/],
    ['a malformed resource attribute list', { OTEL_RESOURCE_ATTRIBUTES: 'a=1,b' }, undefined, /^OTEL_RESOURCE_ATTRIBUTES: "b": want key=value.*the whole variable is ignored$/],
    ['bad percent-encoding in a resource attribute', { OTEL_RESOURCE_ATTRIBUTES: 'a=%zz' }, undefined, /^OTEL_RESOURCE_ATTRIBUTES: "a=%zz": bad percent-encoding/],
  ];
  for (const [name, env, want, warning] of cases) {
    test(name, () => {
      const s = otelSettings({}, env);
      assert.equal(s.target ? `${s.target.protocol} ${s.target.url}` : undefined, want);
      assert.equal(s.warnings.length, 1, s.warnings.join(' | '));
      assert.match(s.warnings[0] ?? '', warning);
    });
  }
});

describe('bad flags throw (the CLI turns them into exit 2)', () => {
  const cases: Array<[string, OtlpFlags, RegExp]> = [
    ['unknown protocol', { endpoint: 'http://c:4318', protocol: 'http' }, /--otlp-protocol: "http" is not one of grpc, http\/protobuf, http\/json$/],
    ['host:port for http/protobuf', { endpoint: 'collector:4318' }, /--otlp-endpoint: "collector:4318" is not a URL \(want http:\/\/host:4318 for http\/protobuf\)$/],
    ['a path for grpc', { endpoint: 'http://c:4317/v1/traces', protocol: 'grpc' }, /--otlp-endpoint: a gRPC endpoint has no path/],
    ['a dns:// endpoint (the kubelet form) for grpc', { endpoint: 'dns://c:4317', protocol: 'grpc' }, /--otlp-endpoint: scheme "dns" is not OTLP\/gRPC/],
    ['unix socket for http', { endpoint: 'unix:///run/otel.sock' }, /--otlp-endpoint: scheme "unix" is not OTLP\/HTTP/],
  ];
  for (const [name, flags, error] of cases) test(name, () => assert.throws(() => otelSettings(flags, {}), error));
});

describe('batch processor and exporter timeout', () => {
  test('unset: the bounded defaults', () => {
    const s = otelSettings({}, {});
    assert.deepEqual(s.queue, DEFAULT_QUEUE);
    assert.equal(s.timeoutMillis, EXPORTER_TIMEOUT_MS);
  });

  test('OTEL_BSP_* and OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT win when valid', () => {
    const s = otelSettings({}, { OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '10', OTEL_BSP_SCHEDULE_DELAY: '0', OTEL_BSP_EXPORT_TIMEOUT: '1000', OTEL_EXPORTER_OTLP_TIMEOUT: '3000', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '4000' });
    assert.deepEqual(s.queue, { maxQueueSize: 100, maxExportBatchSize: 10, scheduledDelayMillis: 0, exportTimeoutMillis: 1000 });
    assert.equal(s.timeoutMillis, 4000);
    assert.deepEqual(s.warnings, []);
  });

  test('malformed values warn and keep the default; a batch larger than the queue is clamped', () => {
    const s = otelSettings({}, { OTEL_BSP_MAX_QUEUE_SIZE: '0', OTEL_BSP_SCHEDULE_DELAY: '1.5', OTEL_BSP_EXPORT_TIMEOUT: 'soon', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4096', OTEL_EXPORTER_OTLP_TIMEOUT: '-1' });
    assert.deepEqual(s.queue, { ...DEFAULT_QUEUE, maxExportBatchSize: DEFAULT_QUEUE.maxQueueSize });
    assert.equal(s.timeoutMillis, EXPORTER_TIMEOUT_MS);
    assert.deepEqual(
      s.warnings.map((w) => w.split(':')[0]),
      ['OTEL_EXPORTER_OTLP_TIMEOUT', 'OTEL_BSP_MAX_QUEUE_SIZE', 'OTEL_BSP_SCHEDULE_DELAY', 'OTEL_BSP_EXPORT_TIMEOUT', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'],
    );
  });
});
