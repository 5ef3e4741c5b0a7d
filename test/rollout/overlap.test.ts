import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { A_POLICY } from '../../src/api/annotations.js';
import { condition, converged, restartsByNode, startEnv, waitFor, type Env } from '../helpers/rollout.js';

let env: Env;
before(async () => {
  env = await startEnv({ nodes: 6, versions: ['v1.30.10'], restartMs: 40 });
  await env.startController();
});
after(async () => env?.stop());

test('overlapping policies: the higher priority owns the node, the other reports Conflict and leaves it alone', async () => {
  await env.createPolicy('everyone', { nodeSelector: {}, tracing: { samplingRatePerMillion: 1 }, rollout: { maxUnavailable: 3, minReadySeconds: 0 } });
  await env.createPolicy('zone-a', {
    nodeSelector: { matchLabels: { 'topology.kubernetes.io/zone': 'zone-a' } },
    priority: 10,
    tracing: { samplingRatePerMillion: 500000 },
    rollout: { maxUnavailable: 3, minReadySeconds: 0 },
  });
  const zoneA = (await env.core.listNode({ labelSelector: 'topology.kubernetes.io/zone=zone-a' })).items.map((n) => n.metadata?.name ?? '').sort();
  assert.equal(zoneA.length, 2);
  const loser = await waitFor('both converged', async () => {
    const [a, b] = [await env.getPolicy('everyone'), await env.getPolicy('zone-a')];
    return converged(a) && converged(b) ? a : undefined;
  });
  assert.equal(condition(loser, 'Conflict')?.status, 'True');
  for (const n of zoneA) assert.match(condition(loser, 'Conflict')?.message ?? '', new RegExp(n));
  assert.match(condition(loser, 'Conflict')?.message ?? '', /owned by zone-a/, 'the message names the winning policy');
  assert.equal(loser?.status?.targetNodes, 4);
  assert.deepEqual(loser?.status?.conflicts, zoneA.map((node) => ({ node, ownedBy: 'zone-a' })), 'status names each node and its owner');
  assert.equal(loser?.status?.conflictingNodes, 2);
  assert.equal(condition(await env.getPolicy('zone-a'), 'Conflict')?.status, 'False');

  for (const [name, kubelet] of env.cluster.kubelets) {
    const want = zoneA.includes(name) ? 500000 : 1;
    const tracing = (kubelet.configz()?.kubeletconfig as { tracing?: { samplingRatePerMillion?: number } }).tracing;
    assert.equal(tracing?.samplingRatePerMillion, want, name);
    const node = await env.core.readNode({ name });
    assert.equal(node.metadata?.annotations?.[A_POLICY], zoneA.includes(name) ? 'zone-a' : 'everyone');
  }
  // Each zone-a node went straight to the winner's config: at most one restart per config it got.
  for (const n of zoneA) assert.ok((restartsByNode(env).get(n) ?? 0) <= 2, n);
});

test('a policy with no node to configure is not Ready, and says why', async () => {
  await env.createPolicy('nobody', { nodeSelector: { matchLabels: { pool: 'none' } }, tracing: {}, rollout: { minReadySeconds: 0 } });
  const p = await waitFor('status', async () => {
    const p = await env.getPolicy('nobody');
    return p?.status?.observedGeneration === p?.metadata.generation ? p : undefined;
  });
  assert.equal(condition(p, 'Ready')?.status, 'False', JSON.stringify(p.status?.conditions));
  assert.equal(condition(p, 'Ready')?.reason, 'NoTargetNodes');
  assert.match(condition(p, 'Ready')?.message ?? '', /no node matches spec\.nodeSelector/);
  assert.equal(condition(p, 'Reconciling')?.status, 'False');
  assert.equal(condition(p, 'Stalled')?.status, 'False');

  // A policy whose every node another policy owns.
  await env.createPolicy('shadowed', {
    nodeSelector: { matchLabels: { 'topology.kubernetes.io/zone': 'zone-a' } },
    tracing: {},
    rollout: { minReadySeconds: 0 },
  });
  const s = await waitFor('status', async () => {
    const p = await env.getPolicy('shadowed');
    return p?.status?.observedGeneration === p?.metadata.generation ? p : undefined;
  });
  assert.equal(condition(s, 'Ready')?.reason, 'NoTargetNodes');
  assert.match(condition(s, 'Ready')?.message ?? '', /all 2 selected nodes are owned by other policies \(zone-a\)/);
});
