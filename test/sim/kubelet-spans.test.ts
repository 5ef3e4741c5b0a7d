// A simulated kubelet with tracing exports spans as KEP-2831's kubelet does: real OTLP/gRPC to the
// endpoint of its effective config, in every form the kubelet accepts, sampled at its rate; and
// nothing when it has no tracing, is down, or crash-loops. The receiver is the embedded collector.
import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { OtlpReceiver, SpanTally } from '../../src/sim/collector/index.js';
import { SimKubelet } from '../../src/sim/kubelet/kubelet.js';
import { KUBELET_SPAN_CYCLE, OTELGRPC_SCOPE, OTELHTTP_SCOPE } from '../../src/sim/kubelet/span-mix.js';
import { KubeletTracing, tracingConfigOf } from '../../src/sim/kubelet/tracing.js';
import { prng } from '../helpers/prng.js';

const roots: string[] = [];
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

/** Trace and span ids from a fixed seed: the sampler decides on the trace id, so counts replay exactly. */
function seededIds(seed: number): { generateTraceId(): string; generateSpanId(): string } {
  const next = prng(seed);
  const hex = (words: number) => Array.from({ length: words }, () => Math.floor(next() * 2 ** 32).toString(16).padStart(8, '0')).join('');
  return { generateTraceId: () => hex(4), generateSpanId: () => hex(2) };
}

async function receiver(o: { grpcTarget?: string } = {}): Promise<{ r: OtlpReceiver; tally: SpanTally }> {
  const r = await OtlpReceiver.start({ httpPort: null, ...o });
  const tally = new SpanTally();
  r.onSpans((spans) => tally.add(spans));
  cleanups.push(() => r.stop());
  return { r, tally };
}

function tracing(o: Partial<ConstructorParameters<typeof KubeletTracing>[0]> = {}): KubeletTracing {
  const t = new KubeletTracing({ spansPerSecond: 100, tickMs: 0, exportDelayMs: 20, idGenerator: seededIds(1), ...o });
  cleanups.push(() => t.stop());
  return t;
}

const DROPIN = '90-nodetracing.conf';
const dropin = (t: unknown): string => stringify({ apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', tracing: t });

async function kubelet(name: string, version: string, spans: KubeletTracing): Promise<SimKubelet> {
  const root = await mkdtemp(join(tmpdir(), 'kubelet-spans-'));
  roots.push(root);
  const k = new SimKubelet({ nodeName: name, version, root, restartMs: 5, onConfig: (e) => spans.configure(name, e) });
  await k.init();
  cleanups.push(async () => k.stop());
  return k;
}

/** Writes the files, restarts the kubelet and waits until it has started (or failed to). */
async function restartWith(k: SimKubelet, t: unknown): Promise<void> {
  const dir = k.dropinDir;
  assert.ok(dir, `${k.nodeName} reads a drop-in dir`);
  if (t === undefined) await unlink(join(dir, DROPIN)).catch(() => undefined);
  else await writeFile(join(dir, DROPIN), dropin(t));
  await k.restart();
  for (let i = 0; i < 500 && k.restarting; i++) await new Promise((r) => setTimeout(r, 2));
  assert.equal(k.restarting, false, `${k.nodeName} settled`);
}

describe('the tracing stanza as the kubelet reads it', () => {
  test('defaults: no endpoint is localhost:4317 (otlptracegrpc), no rate is 0; no stanza is no tracing', () => {
    assert.deepEqual(tracingConfigOf({ tracing: {} }), { endpoint: 'localhost:4317', samplingRatePerMillion: 0 });
    assert.deepEqual(tracingConfigOf({ tracing: { endpoint: 'unix:///run/otel.sock', samplingRatePerMillion: 7 } }), { endpoint: 'unix:///run/otel.sock', samplingRatePerMillion: 7 });
    assert.equal(tracingConfigOf({ kind: 'KubeletConfiguration' }), undefined);
    assert.equal(tracingConfigOf(undefined), undefined);
  });
});

describe('every endpoint form the validator accepts reaches the collector over gRPC', () => {
  const abstractName = `kto-test-${process.pid}`;
  const sock = join(tmpdir(), `kto-spans-${process.pid}.sock`);
  const forms: Array<{ name: string; bind?: string; endpoint: (port: number) => string }> = [
    { name: 'host:port', endpoint: (p) => `127.0.0.1:${p}` },
    { name: 'localhost:port (resolved by DNS)', endpoint: (p) => `localhost:${p}` },
    { name: 'dns:///host:port', endpoint: (p) => `dns:///127.0.0.1:${p}` },
    { name: 'dns:host:port', endpoint: (p) => `dns:127.0.0.1:${p}` },
    { name: 'unix:///path', bind: `unix://${sock}`, endpoint: () => `unix://${sock}` },
    { name: 'unix:/path', bind: `unix://${sock}`, endpoint: () => `unix:${sock}` },
    { name: 'unix-abstract:///name', bind: `unix-abstract:///${abstractName}`, endpoint: () => `unix-abstract:///${abstractName}` },
  ];
  for (const f of forms) {
    test(f.name, async () => {
      const { r, tally } = await receiver(f.bind ? { grpcTarget: f.bind } : {});
      const spans = tracing();
      const k = await kubelet('node-07', 'v1.31.6', spans);
      const endpoint = f.endpoint(r.grpcPort);
      await restartWith(k, { endpoint, samplingRatePerMillion: 1_000_000 });
      assert.deepEqual(spans.stats('node-07').tracing?.endpoint, endpoint);
      spans.tick(1000);
      await spans.flush();
      assert.equal(tally.get('node-07')?.spans, 100, `${endpoint}: every span of a rate-1,000,000 kubelet arrived`);
      const got = r.spans();
      assert.ok(got.every((s) => s.protocol === 'grpc' && s.service === 'kubelet' && s.resource['host.name'] === 'node-07' && s.resource['k8s.node.name'] === 'node-07'));
      assert.ok(got.every((s) => s.kind === 3 && s.parentSpanId === ''), 'client spans, each a root');
      await spans.stop();
      await r.stop();
    });
  }
});

describe('spans as the kubelet names them', () => {
  test('CRI spans from otelgrpc and API-server spans from otelhttp, in an idle kubelet proportions', async () => {
    const { r } = await receiver();
    const spans = tracing({ spansPerSecond: KUBELET_SPAN_CYCLE.length });
    const k = await kubelet('node-02', 'v1.33.1', spans);
    await restartWith(k, { endpoint: `127.0.0.1:${r.grpcPort}`, samplingRatePerMillion: 1_000_000 });
    spans.tick(1000);
    await spans.flush();
    const names = r.countBy((s) => s.name);
    assert.equal(names.get('runtime.v1.RuntimeService/ListPodSandbox'), 10, 'the PLEG relists every second');
    assert.equal(names.get('runtime.v1.RuntimeService/ListContainers'), 10);
    assert.equal(names.get('runtime.v1.ImageService/ImageFsInfo'), 1);
    assert.equal(names.get('HTTP PUT'), 1, 'the node lease renewal');
    const lease = r.spans({ name: 'HTTP PUT' })[0];
    assert.equal(lease?.scope, OTELHTTP_SCOPE);
    assert.match(String(lease?.attributes['url.full']), /\/leases\/node-02\?/);
    const relist = r.spans({ name: 'runtime.v1.RuntimeService/ListPodSandbox' })[0];
    assert.equal(relist?.scope, OTELGRPC_SCOPE);
    assert.deepEqual([relist?.attributes['rpc.system'], relist?.attributes['rpc.service'], relist?.attributes['rpc.method']], ['grpc', 'runtime.v1.RuntimeService', 'ListPodSandbox']);
  });
});

describe('sampling: ParentBased(TraceIdRatioBased(rate / 1e6)) on root spans', () => {
  // 20,000 spans per node from a fixed seed. The bound is 5 standard deviations of a binomial
  // count: a correct sampler leaves it with probability 6e-7, and the seed makes the run exact.
  const N = 20_000;
  for (const rate of [10_000, 250_000]) {
    test(`samplingRatePerMillion ${rate}: received / started within 5 sigma of ${rate / 1e6}, nothing lost`, async () => {
      const { r, tally } = await receiver();
      const spans = tracing({ spansPerSecond: 1000, idGenerator: seededIds(rate) });
      const k = await kubelet('node-05', 'v1.30.10', spans);
      await restartWith(k, { endpoint: `127.0.0.1:${r.grpcPort}`, samplingRatePerMillion: rate });
      for (let i = 0; i < N / 1000; i++) spans.tick(1000);
      await spans.flush();
      const { started, sampled } = spans.stats('node-05');
      assert.equal(started, N);
      const received = tally.get('node-05')?.spans ?? 0;
      assert.equal(received, sampled, 'every sampled span arrived');
      const p = rate / 1e6;
      const sigma = Math.sqrt(N * p * (1 - p));
      assert.ok(Math.abs(received - N * p) <= 5 * sigma, `${received} of ${N} at p=${p}: expected ${N * p} ± ${(5 * sigma).toFixed(0)}`);
    });
  }

  test('rate 0 (or none): only parent-sampled spans, so nothing from the kubelet own root spans', async () => {
    const { r } = await receiver();
    const spans = tracing();
    const a = await kubelet('node-08', 'v1.32.2', spans);
    const b = await kubelet('node-09', 'v1.32.2', spans);
    await restartWith(a, { endpoint: `127.0.0.1:${r.grpcPort}`, samplingRatePerMillion: 0 });
    await restartWith(b, { endpoint: `127.0.0.1:${r.grpcPort}` });
    spans.tick(5000);
    await spans.flush();
    assert.equal(spans.stats('node-08').started, 500);
    assert.equal(spans.stats('node-09').started, 500);
    assert.equal(r.received, 0);
  });
});

describe('what the kubelet runs with decides, restart by restart', () => {
  test('removal: the next restart without tracing stops the spans', async () => {
    const { r, tally } = await receiver();
    const spans = tracing();
    const k = await kubelet('node-10', 'v1.29.14', spans);
    await restartWith(k, { endpoint: `127.0.0.1:${r.grpcPort}`, samplingRatePerMillion: 1_000_000 });
    spans.tick(1000);
    await spans.flush();
    assert.equal(tally.get('node-10')?.spans, 100);
    await restartWith(k, undefined);
    assert.equal(spans.stats('node-10').tracing, undefined);
    assert.equal(spans.tracedKubelets, 0);
    spans.tick(5000);
    await spans.flush();
    assert.equal(tally.get('node-10')?.spans, 100, 'no span after the restart without tracing');
    assert.equal(r.received, 100);
  });

  test('an unsupported kubelet (1.24) drops the unknown tracing field and sends nothing', async () => {
    const { r } = await receiver();
    const spans = tracing();
    const root = await mkdtemp(join(tmpdir(), 'kubelet-spans-'));
    roots.push(root);
    const k = new SimKubelet({ nodeName: 'node-01', version: 'v1.24.17', root, restartMs: 5, onConfig: (e) => spans.configure('node-01', e) });
    await k.init();
    cleanups.push(async () => k.stop());
    // 1.24 has no drop-in dir: put tracing in the main config, as nobody should.
    await writeFile(k.configFile, stringify({ apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', tracing: { endpoint: `127.0.0.1:${r.grpcPort}`, samplingRatePerMillion: 1_000_000 } }));
    await k.restart();
    for (let i = 0; i < 500 && k.restarting; i++) await new Promise((res) => setTimeout(res, 2));
    assert.equal(await k.healthy(), true);
    assert.match(k.warnings.join('\n'), /unknown field "tracing"/);
    spans.tick(5000);
    await spans.flush();
    assert.equal(spans.stats('node-01').started, 0);
    assert.equal(r.received, 0);
  });

  test('a rejected config: nothing while the kubelet crash-loops; the rollback restores the old config, which exports again', async () => {
    const { tally, r } = await receiver();
    const spans = tracing();
    const k = await kubelet('node-04', 'v1.34.0', spans);
    const old = { endpoint: `127.0.0.1:${r.grpcPort}`, samplingRatePerMillion: 500_000 };
    await restartWith(k, old);
    spans.tick(1000);
    await spans.flush();
    const before = tally.get('node-04')?.spans ?? 0;
    assert.ok(before > 0 && before < 100, `about half of 100: ${before}`);

    await restartWith(k, { ...old, samplingRatePerMillion: 2_000_000 });
    assert.match(k.error ?? '', /sampling rate must be between 0 and 1000000/);
    assert.equal(spans.stats('node-04').tracing, undefined, 'a crash-looping kubelet has no tracer');
    spans.tick(5000);
    await spans.flush();
    assert.equal(tally.get('node-04')?.spans ?? 0, before, 'nothing sent while it crash-loops');
    assert.equal(spans.stats('node-04').started, 100);

    // The rollback: the previous file back, a restart.
    await restartWith(k, old);
    assert.deepEqual(spans.stats('node-04').tracing, { ...old, since: spans.stats('node-04').tracing?.since });
    spans.tick(1000);
    await spans.flush();
    const after = tally.get('node-04')?.spans ?? 0;
    assert.ok(after > before && after < before + 100, `exporting again at the old rate: ${after - before} of 100`);
  });
});

describe('cheap at scale', () => {
  test('kubelets that share an endpoint share one exporter; an endpoint no kubelet uses is closed', async () => {
    const { r, tally } = await receiver();
    const spans = tracing({ spansPerSecond: 10 });
    const endpoint = `127.0.0.1:${r.grpcPort}`;
    for (let i = 0; i < 50; i++) spans.configure(`node-${i}`, { tracing: { endpoint, samplingRatePerMillion: 1_000_000 } });
    spans.configure('node-x', { tracing: { endpoint: `dns:///${endpoint}`, samplingRatePerMillion: 1_000_000 } });
    assert.deepEqual(spans.endpointStats().map((e) => [e.endpoint, e.kubelets]).sort(), [[endpoint, 50], [`dns:///${endpoint}`, 1]].sort());
    spans.tick(1000);
    await spans.flush();
    assert.equal(tally.size, 51);
    assert.equal(tally.total, 510);
    assert.ok(r.requests.grpc <= 4, `batched: ${r.requests.grpc} export calls for 510 spans`);
    spans.configure('node-x', undefined);
    await spans.flush();
    assert.deepEqual(spans.endpointStats().map((e) => e.endpoint), [endpoint]);
  });
});
