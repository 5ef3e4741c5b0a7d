// Ownership changes between two policies that both select every node (maxUnavailable 1 each):
// the policy that gains nodes is requeued at once, whatever changed ownership (priority, delete),
// and each node goes from the old policy's config straight to the new one's: one hand-off, one
// kubelet restart, never two kubelets restarting at once, never a node without tracing between.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { A_POLICY } from '../../src/api/annotations.js';
import { condition, converged, restartsByNode, samplingRate, startEnv, waitFor, type Env } from '../helpers/rollout.js';

let env: Env;
const bare: string[] = [];
let sampler: NodeJS.Timeout | undefined;
before(async () => {
  env = await startEnv({ nodes: 5, versions: ['v1.30.10', 'v1.33.1'], restartMs: 60 });
  await env.startController();
});
after(async () => {
  clearInterval(sampler);
  await env?.stop();
});

const rollout = { maxUnavailable: 1, minReadySeconds: 0 };
const rate = (node: string): number | undefined => samplingRate(env.cluster, node);

async function owners(): Promise<string[]> {
  return (await env.core.listNode()).items.map((n) => n.metadata?.annotations?.[A_POLICY] ?? '-');
}

/** Restarts since `before`, per node. */
function restartedSince(before: Map<string, number>): number[] {
  return [...restartsByNode(env)].map(([n, c]) => c - (before.get(n) ?? 0));
}

test('two policies on every node: the higher priority owns them, the other reports Conflict naming it', async () => {
  await env.createPolicy('pa', { tracing: { samplingRatePerMillion: 1 }, rollout });
  await waitFor('pa converged', async () => converged(await env.getPolicy('pa')));
  await env.createPolicy('pb', { priority: 10, tracing: { samplingRatePerMillion: 2 }, rollout });
  const pa = await waitFor('pb owns every node, pa lost them', async () => {
    const [a, b] = [await env.getPolicy('pa'), await env.getPolicy('pb')];
    return converged(b) && a?.status?.targetNodes === 0 && condition(a, 'Conflict')?.status === 'True' ? a : undefined;
  });
  assert.match(condition(pa, 'Conflict')?.message ?? '', /owned by pb/);
  assert.deepEqual(await owners(), ['pb', 'pb', 'pb', 'pb', 'pb']);
  // From here on, every running kubelet must run one policy's tracing or the other's.
  sampler = setInterval(() => {
    for (const n of env.cluster.nodeNames()) {
      const k = env.cluster.kubelets.get(n);
      if (k?.configz() && rate(n) === undefined) bare.push(n);
    }
  }, 5);
});

test('lowering the owner priority requeues the other policy at once: it takes every node, one restart each', async () => {
  const before = restartsByNode(env);
  await env.patchPolicySpec('pb', { priority: -1 });
  await waitFor('pa owns and runs every node', async () => {
    const a = await env.getPolicy('pa');
    return converged(a) && a?.status?.targetNodes === 5 ? a : undefined;
  }, 20_000);
  assert.deepEqual(await owners(), ['pa', 'pa', 'pa', 'pa', 'pa']);
  for (const n of env.cluster.nodeNames()) assert.equal(rate(n), 1, n);
  assert.deepEqual(restartedSince(before), [1, 1, 1, 1, 1], 'one restart per node: pb config straight to pa config');
  const pb = await env.getPolicy('pb');
  assert.equal(condition(pb, 'Conflict')?.status, 'True');
  assert.match(condition(pb, 'Conflict')?.message ?? '', /owned by pa/);
});

test('deleting the owner hands every node to the other policy in one restart each, one at a time', async () => {
  await env.patchPolicySpec('pb', { priority: 10 });
  await waitFor('pb owns every node again', async () => converged(await env.getPolicy('pb')) && (await owners()).every((o) => o === 'pb'), 20_000);
  const before = restartsByNode(env);
  await env.custom.deleteClusterCustomObject({ group: 'nodetracing.dev', version: 'v1alpha1', plural: 'nodetracingpolicies', name: 'pb' });
  await waitFor('pb gone, pa owns and runs every node', async () => {
    const a = await env.getPolicy('pa');
    return (await env.getPolicy('pb')) === undefined && converged(a) && a?.status?.targetNodes === 5 ? a : undefined;
  }, 20_000);
  await new Promise((r) => setTimeout(r, 300)); // anything late (an orphan cleanup) would show now
  assert.deepEqual(await owners(), ['pa', 'pa', 'pa', 'pa', 'pa']);
  for (const n of env.cluster.nodeNames()) assert.equal(rate(n), 1, n);
  assert.deepEqual(restartedSince(before), [1, 1, 1, 1, 1], 'one restart per node: no removal of pb before pa');
  assert.ok(env.cluster.maxConcurrentRestarts() <= 1, `${env.cluster.maxConcurrentRestarts()} kubelets restarting at once`);
  assert.deepEqual([...new Set(bare)], [], 'no node ran without tracing between two owners');
});
