// Chaos at the policy level: the spec changes while a batch is still restarting. The nodes busy
// with the old config are still unavailable, so they must keep holding their slots: README "At
// most maxUnavailable target nodes are restarting ... at once".
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { A_STATE } from '../../src/api/annotations.js';
import { NODES } from '../../src/sim/apiserver/index.js';
import { converged, startEnv, waitFor, type Env } from '../helpers/rollout.js';

let env: Env | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
});

function applying(e: Env): number {
  return e.cluster.server.store
    .list<{ metadata: { annotations?: Record<string, string> } }>(NODES)
    .items.filter((n) => n.metadata.annotations?.[A_STATE] === 'Applying').length;
}

test('spec changed while a batch is restarting: the old batch keeps its slots (never > maxUnavailable restarting)', async (t) => {
  env = await startEnv({ nodes: 8, versions: ['v1.31.6', 'v1.34.0'], restartMs: 400 });
  await env.startController();
  const e = env;
  await env.createPolicy('p', { tracing: { samplingRatePerMillion: 1 }, rollout: { maxUnavailable: 2, minReadySeconds: 0 } });
  await waitFor('the first batch restarting', () => applying(e) >= 2, 10_000, 5);
  await env.patchPolicySpec('p', { tracing: { samplingRatePerMillion: 2 } });
  await waitFor('converged on the new spec', async () => {
    const p = await e.getPolicy('p');
    return converged(p) && p?.metadata.generation === 2;
  }, 30_000);
  const peak = env.cluster.maxConcurrentRestarts();
  t.diagnostic(`peak ${peak}`);
  assert.ok(peak <= 2, `${peak} kubelets were restarting at once with maxUnavailable 2`);
});
