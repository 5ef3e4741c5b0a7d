// End to end: a policy rolled out by the controller and the real agents makes every supported
// kubelet send its spans to the collector the policy names; the unsupported node and the node
// whose kubelet rejects the config (rolled back) send none; deleting the policy stops them all.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { OtlpReceiver, SpanTally } from '../../src/sim/collector/index.js';
import { condition, startEnv, waitFor, type Env } from '../helpers/rollout.js';

let env: Env;
let collector: OtlpReceiver;
const tally = new SpanTally();

before(async () => {
  collector = await OtlpReceiver.start({ httpPort: null });
  collector.onSpans((s) => tally.add(s));
  env = await startEnv({
    nodes: 4,
    versions: ['v1.24.17', 'v1.26.15', 'v1.31.6', 'v1.35.2'],
    restartMs: 50,
    failNodes: ['node-03'],
    agentTimeoutMs: 1_000,
    kubeletSpans: { spansPerSecond: 50, tickMs: 20, exportDelayMs: 20 },
  });
  await env.startController();
});
after(async () => {
  await env?.stop();
  await collector?.stop();
});

const tracing = () => env.cluster.kubeletTracing;

test('every updated node sends spans; the unsupported and the rolled-back node send none', async () => {
  await env.createPolicy('spans', {
    tracing: { endpoint: collector.kubeletEndpoint, samplingRatePerMillion: 1_000_000 },
    rollout: { maxUnavailable: 1, minReadySeconds: 0, maxFailures: 1 },
  });
  const p = await waitFor('rolled out, node-03 failed', async () => {
    const p = await env.getPolicy('spans');
    return p?.status?.observedGeneration === p?.metadata.generation && p?.status?.updatedNodes === 2 && p?.status?.failedNodes === 1 ? p : undefined;
  });
  assert.equal(p.status?.unsupportedNodes, 1);
  await waitFor('spans from node-02 and node-04', () => (tally.get('node-02') && tally.get('node-04') ? true : undefined));

  const t = tracing();
  assert.ok(t);
  await t.flush();
  assert.equal(tally.get('node-01'), undefined, 'v1.24: unsupported, never touched, no spans');
  assert.equal(tally.get('node-03'), undefined, 'rejected the config: no spans');
  assert.equal(t.stats('node-03').started, 0, 'its kubelet never ran with tracing');
  // After the rollback node-03 runs its old config again: no tracing in it.
  const node3 = env.cluster.kubelets.get('node-03');
  assert.equal(await node3?.healthy(), true);
  assert.equal(node3?.configz()?.kubeletconfig['tracing'], undefined);
  assert.ok(node3?.restartLog.some((r) => r.failedAt !== undefined), 'it did reject the config');
  for (const node of ['node-02', 'node-04']) {
    assert.deepEqual(t.stats(node).tracing?.endpoint, collector.kubeletEndpoint, node);
    assert.equal(t.stats(node).tracing?.samplingRatePerMillion, 1_000_000, node);
  }
  assert.ok(collector.spans().every((s) => s.service === 'kubelet' && s.protocol === 'grpc'));
  assert.equal(condition(p, 'Degraded')?.status, 'True');
});

test('deleting the policy: the drop-ins come off, the kubelets restart without tracing, the spans stop', async () => {
  await env.custom.deleteClusterCustomObject({ group: 'nodetracing.dev', version: 'v1alpha1', plural: 'nodetracingpolicies', name: 'spans' });
  await waitFor('policy gone, no kubelet traced', async () => ((await env.getPolicy('spans')) === undefined && tracing()?.tracedKubelets === 0 ? true : undefined));
  const t = tracing();
  assert.ok(t);
  await t.flush();
  const before = { received: collector.received, started: ['node-02', 'node-04'].map((n) => t.stats(n).started) };
  // The shared timer keeps ticking; a kubelet without tracing starts nothing and sends nothing.
  await new Promise((r) => setTimeout(r, 200));
  await t.flush();
  assert.equal(collector.received, before.received);
  assert.deepEqual(['node-02', 'node-04'].map((n) => t.stats(n).started), before.started);
  for (const n of env.cluster.nodeNames()) assert.equal(env.cluster.kubelets.get(n)?.configz()?.kubeletconfig['tracing'], undefined, n);
});
