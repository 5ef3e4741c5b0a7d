// Failures the policy tolerates (rollout.maxFailures): the rollout still ends, in a state kstatus
// reads as Current (Ready=True, Reconciling=False, Stalled=False), with Degraded naming each
// failed node and why, in the kubelet's own words. `kubectl wait --for=condition=Ready` returns.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { A_MESSAGE } from '../../src/api/annotations.js';
import { run } from '../helpers/cli.js';
import { condition, startEnv, waitFor, type Env } from '../helpers/rollout.js';

let env: Env;
let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kto-tolerated-'));
  env = await startEnv({ nodes: 5, versions: ['v1.30.10'], restartMs: 40, failNodes: ['node-02', 'node-04'] });
  await env.startController();
});
after(async () => {
  await env?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('maxFailures 2, two kubelets refuse the config: the rollout ends Ready with Degraded naming them and the kubelet reason', async () => {
  await env.createPolicy('tol', { tracing: { samplingRatePerMillion: 5 }, rollout: { maxUnavailable: 3, minReadySeconds: 0, maxFailures: 2 } });
  const p = await waitFor('the rollout over', async () => {
    const p = await env.getPolicy('tol');
    return p?.status?.observedGeneration === p?.metadata.generation && p?.status?.failedNodes === 2 && p?.status?.updatedNodes === 3 && condition(p, 'Reconciling')?.status === 'False' ? p : undefined;
  }, 30_000);
  assert.equal(condition(p, 'Ready')?.status, 'True', JSON.stringify(p.status?.conditions));
  assert.equal(condition(p, 'Ready')?.reason, 'RolloutComplete');
  assert.match(condition(p, 'Ready')?.message ?? '', /3\/5 nodes updated; 2 failed, within maxFailures 2/);
  assert.equal(condition(p, 'Stalled')?.status, 'False');
  const degraded = condition(p, 'Degraded');
  assert.equal(degraded?.status, 'True');
  assert.equal(degraded?.reason, 'NodesFailed');
  for (const name of ['node-02', 'node-04']) {
    const why = (await env.core.readNode({ name })).metadata?.annotations?.[A_MESSAGE] ?? '';
    assert.ok(why.length > 0, `${name} carries the agent's message`);
    assert.ok(degraded?.message.includes(`${name} rolled back: ${why.slice(0, 40)}`), `${degraded?.message ?? ''} names ${name} and "${why}"`);
  }

  // kstatus-based tools and kubectl wait see the end.
  const kubeconfig = join(dir, 'kubeconfig');
  await env.cluster.server.writeKubeconfig(kubeconfig);
  const w = await run('kubectl', ['--kubeconfig', kubeconfig, 'wait', 'ntp/tol', '--for=condition=Ready', '--timeout=20s']);
  assert.equal(w.code, 0, w.stdout + w.stderr);

  // The Events carry the kubelet's reason too.
  const events = await env.core.listNamespacedEvent({ namespace: 'default' });
  const failed = events.items.filter((e) => e.involvedObject.name === 'tol' && e.reason === 'NodeFailed').map((e) => e.message ?? '');
  assert.equal(failed.length, 2, failed.join('\n'));
  for (const m of failed) assert.match(m, /node-0[24] rolled back: .*(reject|tracing)/i);
});

test('a node that never answers: Degraded says it timed out, not that it was rolled back', async () => {
  const quiet = await startEnv({ nodes: 2, versions: ['v1.30.10'], agents: false });
  try {
    await quiet.startController();
    await quiet.createPolicy('silent', { tracing: {}, rollout: { maxUnavailable: 1, minReadySeconds: 0, nodeTimeoutSeconds: 1, maxFailures: 2 } });
    const p = await waitFor('Degraded', async () => {
      const p = await quiet.getPolicy('silent');
      return condition(p, 'Degraded')?.status === 'True' ? p : undefined;
    });
    const msg = condition(p, 'Degraded')?.message ?? '';
    assert.match(msg, /node-0[12] timed out: no result from its agent within nodeTimeoutSeconds \(1 s\)/);
    assert.doesNotMatch(msg, /rolled back/);
  } finally {
    await quiet.stop();
  }
});

