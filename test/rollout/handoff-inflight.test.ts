// A node handed to another policy while it is still restarting on the old owner's release keeps
// holding one of the old owner's maxUnavailable slots until that restart is through (and the
// new owner's, which waits for it): neither policy starts a second kubelet restart beside it
// (maxUnavailable 1 on both). Afterwards each policy has its own budget for its own nodes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { A_POLICY, A_STATE } from '../../src/api/annotations.js';
import { converged, startEnv, waitFor, type Env } from '../helpers/rollout.js';

let env: Env;
before(async () => {
  // Slow restarts: the hand-off lands while the kubelet is still restarting.
  env = await startEnv({ nodes: 4, versions: ['v1.30.10'], restartMs: 2_000, agentTimeoutMs: 20_000 });
  await env.startController();
});
after(async () => env?.stop());

const rollout = { maxUnavailable: 1, minReadySeconds: 0 };

test('a node taken away mid-restart still holds the old owner slot: no second restart beside it', async () => {
  await env.createPolicy('pa', { tracing: { samplingRatePerMillion: 1 }, rollout });
  await waitFor('pa converged', async () => converged(await env.getPolicy('pa')), 60_000);
  const pcCreatedAt = Date.now();
  await env.createPolicy('pc', { priority: 10, tracing: { samplingRatePerMillion: 2 }, rollout });
  const x = await waitFor('pc restarting its first node', async () => {
    const n = (await env.core.listNode()).items.find((n) => n.metadata?.annotations?.[A_POLICY] === 'pc' && n.metadata.annotations[A_STATE] === 'Applying');
    return n?.metadata?.name;
  }, 30_000);
  // That node leaves pc's selector: pa owns it again while it still restarts on pc's release.
  const handedAt = Date.now();
  await env.patchPolicySpec('pc', { nodeSelector: { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'NotIn', values: [x] }] } });
  await waitFor('both converged', async () => {
    const [a, c] = [await env.getPolicy('pa'), await env.getPolicy('pc')];
    return converged(a) && converged(c) && a?.status?.targetNodes === 1 && c?.status?.targetNodes === 3;
  }, 60_000);
  assert.equal((await env.core.readNode({ name: x })).metadata?.annotations?.[A_POLICY], 'pa');
  // The restart pc started on x (its first after pc existed; the agent reports Applying a moment
  // before the kubelet goes down, so it may begin just after the hand-off), still running when
  // x was handed to pa ...
  const restarts = env.cluster.restarts();
  const handed = restarts.filter((r) => r.node === x && r.startedAt >= pcCreatedAt).sort((a, b) => a.startedAt - b.startedAt)[0];
  assert.ok(handed && (handed.readyAt ?? Infinity) >= handedAt, `x=${x} was restarting when handed over (handed at ${handedAt}): ${JSON.stringify(restarts)}`);
  // ... kept pc's only slot: no other kubelet restarted beside it.
  const beside = restarts.filter((r) => r.node !== x && r.startedAt < (handed.readyAt ?? Infinity) && (r.readyAt ?? Infinity) > handed.startedAt);
  assert.deepEqual(beside.map((r) => r.node), [], JSON.stringify(restarts));
  // Afterwards each policy restarts one node at a time (x for pa, the rest for pc).
  assert.ok(env.cluster.maxConcurrentRestarts() <= 2);
});
