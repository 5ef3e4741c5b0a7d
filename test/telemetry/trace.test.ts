// One connected trace per rollout: controller root span -> Node annotation -> agent apply spans,
// exported with the real OTel exporter of each OTLP protocol (gRPC, http/protobuf, http/json) to
// a real receiver of that protocol; and a collector that is down changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { trace } from '@opentelemetry/api';
import { A_TRACEPARENT } from '../../src/api/annotations.js';
import { traceFields } from '../../src/telemetry/log.js';
import { Registry } from '../../src/telemetry/metrics.js';
import { startTracing } from '../../src/telemetry/tracing.js';
import { VERSION as KTO_VERSION } from '../../src/version.js';
import { closedPort, endpointFor, OtlpReceiver, type Protocol, type ReceivedSpan, type RolloutEnv, startRolloutEnv } from './harness.js';
import { adminKubeConfig } from '../../src/sim/kubeconfig.js';

const NODES = 4;

for (const protocol of ['http/protobuf', 'grpc', 'http/json'] as const satisfies readonly Protocol[]) {
  describe(`rollout trace over OTLP ${protocol}`, () => {
    let receiver: OtlpReceiver;
    let env: RolloutEnv | undefined;
    let spans: ReceivedSpan[] = [];
    let traceId = '';
    let annotations: Record<string, string> = {};

    before(async () => {
      receiver = await OtlpReceiver.start();
      env = await startRolloutEnv({ nodes: NODES, restartMs: 50, maxUnavailable: 2, endpoint: endpointFor(receiver, protocol), protocol });
      await env.rollout('traced', 30_000);
      traceId = env.ctl.rolloutTraceId('traced') ?? '';
      const node = await adminKubeConfig(env.cluster.server).makeApiClient((await import('@kubernetes/client-node')).CoreV1Api).readNode({ name: 'node-01' });
      annotations = node.metadata?.annotations ?? {};
      const ok = env;
      env = undefined;
      await ok.stop(); // ends the root span and flushes both providers
      await receiver.waitFor('the rollout root span', () => receiver.count({ name: 'rollout traced' }) > 0);
      spans = receiver.spans();
    });

    after(async () => {
      await env?.stop(1_000);
      await receiver.stop();
    });

    test(`every span arrived over ${protocol}, and only over it`, () => {
      assert.ok(receiver.requests[protocol] > 0);
      assert.equal(receiver.count({ protocol }), spans.length);
      assert.equal(Object.values(receiver.requests).reduce((a, b) => a + b, 0), receiver.requests[protocol]);
    });

    test('the resource names the service and its version', () => {
      assert.deepEqual([...new Set(spans.map((s) => s.service))].sort(), ['kubelet-tracing-agent', 'kubelet-tracing-controller']);
      for (const s of spans) assert.equal(s.resource['service.version'], KTO_VERSION, s.name);
      assert.ok(spans.every((s) => s.scope === 'kubelet-tracing-operator'));
    });

    test('exactly one root span for the rollout, from the controller', () => {
      const roots = spans.filter((s) => s.name === 'rollout traced');
      assert.equal(roots.length, 1);
      const root = roots[0];
      assert.ok(root);
      assert.equal(root.parentSpanId, '');
      assert.equal(root.traceId, traceId);
      assert.equal(root.service, 'kubelet-tracing-controller');
      assert.equal(root.attributes['kto.policy'], 'traced');
      assert.equal(root.attributes['kto.rollout.outcome'], 'complete');
      assert.equal(root.attributes['kto.updated'], NODES);
    });

    test('the traceparent on the Node is the root span', () => {
      const root = spans.find((s) => s.name === 'rollout traced');
      assert.match(annotations[A_TRACEPARENT] ?? '', new RegExp(`^00-${traceId}-${root?.spanId}-01$`));
    });

    test('one apply span per node, a child of the root in the same trace, from the agent', () => {
      const root = spans.find((s) => s.name === 'rollout traced');
      const applies = spans.filter((s) => s.name.startsWith('apply '));
      assert.deepEqual(applies.map((s) => s.name).sort(), ['apply node-01', 'apply node-02', 'apply node-03', 'apply node-04']);
      for (const a of applies) {
        assert.equal(a.traceId, root?.traceId, a.name);
        assert.equal(a.parentSpanId, root?.spanId, a.name);
        assert.equal(a.service, 'kubelet-tracing-agent');
        assert.equal(a.kind, 5); // CONSUMER: it continues the controller's hand-off
        assert.equal(a.attributes['k8s.node.name'], a.name.slice('apply '.length));
        assert.equal(a.attributes['kto.node'], undefined);
        assert.equal(a.attributes['kto.state'], 'Applied');
        assert.equal(a.attributes['kto.restarted'], true);
      }
    });

    test('write, restart and health spans under each apply, in order', () => {
      for (const a of spans.filter((s) => s.name.startsWith('apply '))) {
        const phases = spans.filter((s) => s.parentSpanId === a.spanId).sort((x, y) => (x.startNs < y.startNs ? -1 : 1));
        assert.deepEqual(phases.map((s) => s.name), ['write', 'restart', 'health'], a.name);
        for (const p of phases) {
          assert.equal(p.traceId, a.traceId);
          assert.equal(p.attributes['k8s.node.name'], a.attributes['k8s.node.name']);
        }
      }
    });

    test('reconcile spans carry policy, generation, reconcile id, result; plan and API writes are their children', () => {
      const reconciles = spans.filter((s) => s.name === 'reconcile' && s.attributes['kto.policy'] === 'traced');
      assert.ok(reconciles.length >= 2, `${reconciles.length} reconcile spans`);
      for (const r of reconciles) {
        assert.equal(typeof r.attributes['kto.generation'], 'number');
        assert.match(String(r.attributes['kto.reconcile_id']), /^[0-9a-f-]{36}$/);
        assert.ok(['success', 'requeue'].includes(String(r.attributes['kto.result'])), String(r.attributes['kto.result']));
      }
      // Reconciles while the rollout is open belong to its trace, under the root.
      const root = spans.find((s) => s.name === 'rollout traced');
      assert.ok(reconciles.some((r) => r.parentSpanId === root?.spanId));
      const ids = new Set(reconciles.map((r) => r.spanId));
      assert.ok(spans.some((s) => s.name === 'plan' && ids.has(s.parentSpanId)));
      const writes = spans.filter((s) => s.name === 'patch nodes' && ids.has(s.parentSpanId));
      assert.ok(writes.length >= NODES, `${writes.length} node patches`);
      for (const w of writes) {
        assert.equal(w.kind, 3); // CLIENT
        assert.equal(w.attributes['http.response.status_code'], 200);
        assert.equal(w.attributes['http.request.method'], 'PATCH');
        assert.equal(w.attributes['kto.api.resource'], 'nodes');
        assert.match(String(w.attributes['k8s.node.name']), /^node-0\d$/);
        assert.equal(w.attributes['error.type'], undefined);
      }
      const status = spans.filter((s) => s.name === 'patch nodetracingpolicies/status');
      assert.ok(status.length > 0 && status.every((s) => s.attributes['kto.policy'] === 'traced'));
    });
  });
}

describe('a node that rolls back', () => {
  let receiver: OtlpReceiver;
  let env: RolloutEnv | undefined;
  after(async () => {
    await env?.stop(1_000);
    await receiver.stop();
  });

  test('its apply span fails with a rollback child; the halted rollout root is an error', async () => {
    receiver = await OtlpReceiver.start();
    env = await startRolloutEnv({ nodes: 2, restartMs: 50, maxUnavailable: 1, failNodes: ['node-01'], endpoint: receiver.httpEndpoint });
    const { summary } = await env.rollout('refused', 30_000);
    assert.equal(summary.failed, 1);
    assert.match(await env.registry.metrics(), /^kto_node_rollbacks_total 1$/m);
    const e = env;
    env = undefined;
    await e.stop();
    await receiver.waitFor('the root span', () => receiver.count({ name: 'rollout refused' }) > 0);
    const spans = receiver.spans();
    const root = spans.find((s) => s.name === 'rollout refused');
    const apply = spans.find((s) => s.name === 'apply node-01');
    assert.equal(apply?.parentSpanId, root?.spanId);
    assert.equal(apply?.attributes['kto.state'], 'RolledBack');
    assert.equal(apply?.statusCode, 2); // STATUS_CODE_ERROR
    const phases = spans.filter((s) => s.parentSpanId === apply?.spanId).map((s) => s.name);
    assert.ok(phases.includes('rollback'), phases.join(','));
    assert.equal(spans.find((s) => s.name === 'health' && s.parentSpanId === apply?.spanId)?.statusCode, 2);
    assert.equal(root?.attributes['kto.rollout.outcome'], 'halted');
    assert.equal(root?.statusCode, 2);
  });
});

describe('collector down', () => {
  let env: RolloutEnv | undefined;
  after(async () => {
    await env?.stop(1_000);
  });

  test('the rollout still completes, and shutdown does not hang', async () => {
    const port = await closedPort();
    env = await startRolloutEnv({ nodes: NODES, restartMs: 50, maxUnavailable: 2, endpoint: `http://127.0.0.1:${port}` });
    const { summary } = await env.rollout('unheard', 30_000);
    assert.equal(summary.updated, NODES);
    assert.ok(env.ctl.rolloutTraceId('unheard'), 'spans were still made');
    const e = env;
    env = undefined;
    const t0 = Date.now();
    await e.stop(1_000);
    assert.ok(Date.now() - t0 < 5_000, `stop took ${Date.now() - t0} ms`);
    const text = await e.registry.metrics();
    assert.match(text, /^kto_spans_exported_total 0$/m);
  });

  test('a full queue drops spans and counts them; failed exports are counted', async () => {
    const port = await closedPort();
    const registry = new Registry();
    const t = startTracing({
      service: 'kubelet-tracing-controller',
      endpoint: `http://127.0.0.1:${port}`,
      registry,
      queue: { maxQueueSize: 10, maxExportBatchSize: 5, scheduledDelayMillis: 10, exportTimeoutMillis: 300 },
    });
    for (let i = 0; i < 100; i++) t.tracer.startSpan(`s${i}`).end();
    const value = async (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await registry.metrics())?.[1]);
    assert.ok((await value('kto_spans_dropped_total')) >= 80, `dropped ${await value('kto_spans_dropped_total')}`);
    // Connection refused is retried with back-off until the export timeout, then counted failed.
    let failed = 0;
    for (const deadline = Date.now() + 5_000; failed === 0 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 50));
      failed = await value('kto_spans_export_failed_total');
    }
    assert.ok(failed > 0, 'failed exports counted');
    assert.equal(await value('kto_spans_exported_total'), 0);
    await t.shutdown(500);
  });
});

describe('configuration', () => {
  test('logs inside a span carry its trace id', async () => {
    const receiver = await OtlpReceiver.start();
    const t = startTracing({ service: 'kubelet-tracing-controller', endpoint: receiver.httpEndpoint, registry: new Registry() });
    try {
      assert.deepEqual(traceFields(), {});
      t.tracer.startActiveSpan('reconcile', (span) => {
        assert.deepEqual(traceFields(), { trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId });
        span.end();
      });
    } finally {
      await t.shutdown();
      await receiver.stop();
    }
  });

  test('off: a no-op tracer and nothing else', async () => {
    const t = startTracing({ service: 'kubelet-tracing-agent', endpoint: undefined });
    if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return;
    assert.equal(t.enabled, false);
    const span = t.tracer.startSpan('x');
    assert.equal(span.isRecording(), false);
    assert.equal(trace.isSpanContextValid(span.spanContext()), false);
    span.end();
    await t.shutdown();
  });
});
