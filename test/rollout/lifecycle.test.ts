// Pause/resume, a node leaving the selector, and deleting the policy: the drop-ins come off
// again with the same rolling rules, and only then is the finalizer released.
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ANNOTATION_PREFIX, DROPIN_FILE } from '../../src/api/annotations.js';
import { condition, converged, restartsByNode, startEnv, waitFor, type Env } from '../helpers/rollout.js';
import { mergePatch } from '../../src/kube/client.js';
import { CRD_NAME } from '../../src/api/crd.js';
import { CRDS } from '../../src/sim/apiserver/index.js';
import { controllerReadiness } from '../../src/telemetry/controller.js';

let env: Env;
const dropin = (node: string): string => join(env.cluster.kubelets.get(node)?.root ?? '', 'etc/kubernetes/kubelet.conf.d', DROPIN_FILE);
const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

before(async () => {
  env = await startEnv({ nodes: 4, versions: ['v1.31.6', 'v1.33.1'], restartMs: 50 });
  await env.startController();
});
after(async () => env?.stop());

test('a paused policy releases nothing; resuming rolls it out', async () => {
  await env.createPolicy('p', {
    nodeSelector: { matchLabels: { 'kubernetes.io/os': 'linux' } },
    tracing: { samplingRatePerMillion: 7 },
    rollout: { paused: true, maxUnavailable: 2, minReadySeconds: 0 },
  });
  const paused = await waitFor('paused status', async () => {
    const p = await env.getPolicy('p');
    return condition(p, 'Reconciling')?.reason === 'RolloutPaused' ? p : undefined;
  });
  assert.equal(paused.status?.targetNodes, 4);
  assert.equal(paused.status?.updatedNodes, 0);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal([...restartsByNode(env).values()].reduce((a, b) => a + b, 0), 0);

  await env.patchPolicySpec('p', { rollout: { paused: false, maxUnavailable: 2, minReadySeconds: 0 } });
  await waitFor('converged', async () => converged(await env.getPolicy('p')));
  for (const n of env.cluster.nodeNames()) assert.equal(await exists(dropin(n)), true, n);
});

test('a node leaving the selector gets its drop-in removed', async () => {
  await env.core.patchNode({ name: 'node-02', body: { metadata: { labels: { 'kubernetes.io/os': 'windows' } } } }, mergePatch);
  await waitFor('node-02 cleaned', async () => {
    const n = await env.core.readNode({ name: 'node-02' });
    const ours = Object.keys(n.metadata?.annotations ?? {}).filter((k) => k.startsWith(ANNOTATION_PREFIX));
    return ours.length === 0;
  });
  assert.equal(await exists(dropin('node-02')), false);
  const p = await waitFor('status shows 3 targets', async () => {
    const p = await env.getPolicy('p');
    return p?.status?.targetNodes === 3 && converged(p) ? p : undefined;
  });
  assert.equal(p.status?.updatedNodes, 3);
  assert.equal(restartsByNode(env).get('node-02'), 2, 'apply + removal');
});

test('deleting the policy removes every drop-in, then releases the finalizer', async () => {
  await env.custom.deleteClusterCustomObject({ group: 'nodetracing.dev', version: 'v1alpha1', plural: 'nodetracingpolicies', name: 'p' });
  await waitFor('policy gone', async () => (await env.getPolicy('p')) === undefined ? true : undefined);
  for (const name of env.cluster.nodeNames()) {
    assert.equal(await exists(dropin(name)), false, `${name} drop-in removed`);
    const n = await env.core.readNode({ name });
    assert.deepEqual(Object.keys(n.metadata?.annotations ?? {}).filter((k) => k.startsWith(ANNOTATION_PREFIX)), [], name);
    const kubelet = env.cluster.kubelets.get(name);
    assert.equal(kubelet?.configz()?.kubeletconfig && 'tracing' in (kubelet.configz()?.kubeletconfig ?? {}), false, `${name} kubelet runs without tracing`);
  }
  // The main config file was never touched by drop-in mode.
  const main = await readFile(join(env.cluster.kubelets.get('node-01')?.root ?? '', 'var/lib/kubelet/config.yaml'), 'utf8');
  assert.doesNotMatch(main, /tracing/);
});

test('deleting a paused policy removes its configuration anyway: the delete is the newer request', async () => {
  await env.createPolicy('q', { tracing: { samplingRatePerMillion: 3 }, rollout: { maxUnavailable: 2, minReadySeconds: 0 } });
  await waitFor('q converged', async () => converged(await env.getPolicy('q')));
  await env.patchPolicySpec('q', { rollout: { paused: true, maxUnavailable: 2, minReadySeconds: 0 } });
  await waitFor('the pause observed', async () => {
    const q = await env.getPolicy('q');
    return q?.status?.observedGeneration === q?.metadata.generation;
  });
  await env.custom.deleteClusterCustomObject({ group: 'nodetracing.dev', version: 'v1alpha1', plural: 'nodetracingpolicies', name: 'q' });
  await waitFor('q gone', async () => ((await env.getPolicy('q')) === undefined ? true : undefined), 20_000);
  for (const name of env.cluster.nodeNames()) assert.equal(await exists(dropin(name)), false, `${name} drop-in removed`);
});

test('deleting the CRD deletes the policies first: their configuration comes off, then the CRD goes and the controller says it is blind', async () => {
  await env.createPolicy('r', { tracing: { samplingRatePerMillion: 4 }, rollout: { maxUnavailable: 2, minReadySeconds: 0 } });
  await waitFor('r converged', async () => converged(await env.getPolicy('r')));
  env.cluster.server.store.delete(CRDS, CRD_NAME);
  await waitFor('the CRD gone', () => env.cluster.server.store.tryGet(CRDS, CRD_NAME) === undefined, 20_000);
  for (const name of env.cluster.nodeNames()) assert.equal(await exists(dropin(name)), false, `${name} drop-in removed`);
  const c = env.controllers[0];
  assert.ok(c);
  const r = await waitFor('not ready', () => {
    const l = c.leadership();
    const ready = controllerReadiness({ ...l, leaderElection: false });
    return ready.ok ? undefined : ready;
  });
  assert.match(r.reason ?? '', /NodeTracingPolicy cache: .*HTTP 404.*CRD installed/);
});
