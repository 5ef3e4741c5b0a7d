import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { A_DESIRED_HASH, A_MESSAGE, A_STATE, DROPIN_FILE } from '../../src/api/annotations.js';
import { condition, restartsByNode, startEnv, waitFor, type Env } from '../helpers/rollout.js';

let env: Env;
before(async () => {
  // Every kubelet rejects the config, so whichever node the stable order releases first fails.
  env = await startEnv({ nodes: 5, versions: ['v1.30.10'], restartMs: 60, failNodes: ['node-01', 'node-02', 'node-03', 'node-04', 'node-05'] });
  await env.startController();
  await env.createPolicy('bad', { tracing: { samplingRatePerMillion: 1 }, rollout: { maxUnavailable: 1, minReadySeconds: 0, maxFailures: 0 } });
});
after(async () => env?.stop());

async function released(): Promise<string[]> {
  const nodes = await env.core.listNode();
  return nodes.items.filter((n) => n.metadata?.annotations?.[A_DESIRED_HASH]).map((n) => n.metadata?.name ?? '');
}

test('a config the kubelet rejects: the node is rolled back, the policy Degraded, the rollout halted at maxFailures', async () => {
  const p = await waitFor('halted', async () => {
    const p = await env.getPolicy('bad');
    return condition(p, 'Stalled')?.status === 'True' ? p : undefined;
  });
  assert.equal(condition(p, 'Degraded')?.status, 'True');
  assert.equal(condition(p, 'Degraded')?.reason, 'NodesFailed');
  assert.equal(condition(p, 'Ready')?.status, 'False');
  assert.equal(p.status?.failedNodes, 1);

  const first = await released();
  assert.equal(first.length, 1, 'maxUnavailable 1: only one node was released');
  const name = first[0] ?? '';
  const node = await env.core.readNode({ name });
  assert.equal(node.metadata?.annotations?.[A_STATE], 'RolledBack');
  assert.match(node.metadata?.annotations?.[A_MESSAGE] ?? '', /reject|tracing/i);
  const named = await waitFor('status names the failed node', async () => {
    const q = await env.getPolicy('bad');
    return q?.status?.failures?.length ? q.status.failures : undefined;
  });
  assert.deepEqual(named.map((f) => [f.node, f.reason]), [[name, 'RolledBack']]);
  assert.equal(named[0]?.message, node.metadata?.annotations?.[A_MESSAGE]?.replace(/\s+/g, ' ').trim(), "the kubelet's own words");

  const kubelet = env.cluster.kubelets.get(name);
  assert.ok(kubelet);
  assert.equal(await kubelet.healthy(), true, 'the kubelet is back on its previous config');
  await assert.rejects(access(join(kubelet.root, 'etc/kubernetes/kubelet.conf.d', DROPIN_FILE)), 'our drop-in was taken off again');
  assert.equal(restartsByNode(env).get(name), 2, 'apply + rollback');

  // Halted: nothing more is released, however long we wait.
  await new Promise((r) => setTimeout(r, 600));
  assert.deepEqual(await released(), first);
  assert.equal([...restartsByNode(env).values()].reduce((a, b) => a + b, 0), 2);
});

test('raising maxFailures resumes the halted rollout at maxUnavailable 1: the rolled-back node, Ready on its old config, frees its slot', async () => {
  await env.patchPolicySpec('bad', { rollout: { maxUnavailable: 1, minReadySeconds: 0, maxFailures: 1 } });
  const p = await waitFor('the next node released, failed, halted again', async () => {
    const p = await env.getPolicy('bad');
    return p?.status?.observedGeneration === p?.metadata.generation && p?.status?.failedNodes === 2 && condition(p, 'Stalled')?.reason === 'RolloutHalted' ? p : undefined;
  });
  assert.equal(condition(p, 'Reconciling')?.status, 'False');
  assert.equal((await released()).length, 2);
  assert.ok(env.cluster.maxConcurrentRestarts() <= 1, 'still one kubelet restarting at a time');
});
