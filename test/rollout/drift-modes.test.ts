// Drift under the rollout's rules: `drift: Report` only reports; a paused rollout reports and
// repairs once resumed; a node that drifts again right after its repair fails instead of being
// restarted in a loop. One cluster, one policy per test on nodes of its own (by label).
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { A_MESSAGE, A_REPAIR, A_STATE } from '../../src/api/annotations.js';
import type { NodeTracingPolicySpec } from '../../src/api/types.js';
import { mergePatch } from '../../src/kube/client.js';
import { annotations, dropinOf, editFile, kubeletOf, removeFile } from '../helpers/drift.js';
import type { SimKubelet } from '../../src/sim/kubelet/index.js';
import { condition, converged, restartsByNode, startEnv, waitFor, type Env } from '../helpers/rollout.js';

let env: Env;
const LABEL = 'drift.test/mode';

before(async () => {
  env = await startEnv({ nodes: 6, versions: ['v1.32.2', 'v1.35.2'], restartMs: 50 });
  await env.startController();
});
after(async () => env?.stop());

const kubelet = (name: string): SimKubelet => kubeletOf(env, name);

/** A policy of its own on `nodes` (labelled for it), converged. */
async function policyOn(name: string, nodes: string[], spec: Partial<NodeTracingPolicySpec> = {}): Promise<void> {
  for (const n of nodes) await env.core.patchNode({ name: n, body: { metadata: { labels: { [LABEL]: name } } } }, mergePatch);
  await env.createPolicy(name, {
    nodeSelector: { matchLabels: { [LABEL]: name } },
    tracing: { samplingRatePerMillion: 777 },
    ...spec,
    rollout: { maxUnavailable: 1, minReadySeconds: 0, ...spec.rollout },
  });
  await waitFor(`${name} converged`, async () => converged(await env.getPolicy(name)));
}

/** The policy's status once the controller has looked at its current generation. */
async function observed(name: string) {
  return waitFor(`${name} observed`, async () => {
    const p = await env.getPolicy(name);
    return p?.status?.observedGeneration === p?.metadata.generation ? p : undefined;
  });
}

test('drift: Report reports (annotation, status, Degraded) and never restarts; a drift undone by hand clears', async () => {
  await policyOn('report', ['node-01', 'node-02'], { rollout: { drift: 'Report' } });
  const before = restartsByNode(env).get('node-01');
  const file = dropinOf(kubelet('node-01'));
  const original = await readFile(file, 'utf8');
  await editFile(file, /samplingRatePerMillion: 777/, 'samplingRatePerMillion: 1');
  const p = await waitFor('drift in the status', async () => {
    const p = await env.getPolicy('report');
    return p?.status?.driftedNodes === 1 ? p : undefined;
  });
  assert.deepEqual(p.status?.drifted, [{ node: 'node-01', message: '90-nodetracing.conf was changed: tracing.samplingRatePerMillion is 1, want 777' }]);
  assert.equal(condition(p, 'Ready')?.status, 'True', 'the rollout stays complete: Report only reports');
  assert.equal(condition(p, 'Degraded')?.reason, 'NodesDrifted');
  assert.match(condition(p, 'Degraded')?.message ?? '', /1 node\(s\) drifted .*reported only \(spec\.rollout\.drift: Report\): node-01: 90-nodetracing\.conf was changed/);
  assert.equal(p.status?.updatedNodes, 1);
  assert.equal((await annotations(env, 'node-01'))[A_STATE], 'Drifted');
  // A reconcile of a new generation releases nothing: a Repair policy would have released here.
  await env.patchPolicySpec('report', { priority: 1 });
  await observed('report');
  assert.equal((await annotations(env, 'node-01'))[A_REPAIR], undefined);
  assert.equal(restartsByNode(env).get('node-01'), before);
  // Put back by hand: the agent says so, the status clears.
  await writeFile(file, original);
  await waitFor('drift cleared', async () => {
    const p = await env.getPolicy('report');
    return p?.status?.driftedNodes === 0 && condition(p, 'Degraded')?.status === 'False' && converged(p);
  });
  assert.equal((await annotations(env, 'node-01'))[A_STATE], 'Applied');
  assert.equal(restartsByNode(env).get('node-01'), before);
});

test('drift while paused: reported, repaired only once resumed', async () => {
  await policyOn('paused', ['node-03', 'node-04']);
  await env.patchPolicySpec('paused', { rollout: { paused: true } });
  await observed('paused');
  const before = restartsByNode(env).get('node-03') ?? 0;
  await removeFile(dropinOf(kubelet('node-03')));
  const p = await waitFor('drift in the status', async () => {
    const p = await env.getPolicy('paused');
    return p?.status?.driftedNodes === 1 ? p : undefined;
  });
  assert.equal(condition(p, 'Ready')?.reason, 'RolloutPaused');
  assert.match(condition(p, 'Degraded')?.message ?? '', /repaired once the rollout is resumed: node-03: 90-nodetracing\.conf was deleted/);
  await env.patchPolicySpec('paused', { priority: 2 });
  await observed('paused');
  assert.equal((await annotations(env, 'node-03'))[A_REPAIR], undefined, 'no repair while paused');
  assert.equal(restartsByNode(env).get('node-03'), before);
  await env.patchPolicySpec('paused', { rollout: { paused: false } });
  await waitFor('repaired', async () => {
    const p = await env.getPolicy('paused');
    return converged(p) && p?.status?.driftedNodes === 0;
  });
  assert.equal(restartsByNode(env).get('node-03'), before + 1);
});

test('a node that drifts again right after its repair fails, and is not restarted again', async () => {
  await policyOn('flap', ['node-05']);
  const file = dropinOf(kubelet('node-05'));
  const before = restartsByNode(env).get('node-05') ?? 0;
  await editFile(file, /samplingRatePerMillion: 777/, 'samplingRatePerMillion: 2');
  await waitFor('repaired once', async () => (restartsByNode(env).get('node-05') ?? 0) === before + 1 && (await annotations(env, 'node-05'))[A_STATE] === 'Applied');
  // Whatever changed it does so again (config management fighting the operator).
  await editFile(file, /samplingRatePerMillion: 777/, 'samplingRatePerMillion: 2');
  const p = await waitFor('failed', async () => {
    const p = await env.getPolicy('flap');
    return p?.status?.failedNodes === 1 ? p : undefined;
  });
  const a = await annotations(env, 'node-05');
  assert.equal(a[A_STATE], 'Failed');
  assert.match(a[A_MESSAGE] ?? '', /^drifted again \d+ s after it was repaired \(something else keeps changing it; not repaired again\): 90-nodetracing\.conf was changed/);
  assert.equal(condition(p, 'Degraded')?.reason, 'NodesFailed');
  await env.patchPolicySpec('flap', { priority: 3 });
  await observed('flap');
  assert.equal(restartsByNode(env).get('node-05'), before + 1, 'no second repair');
  // A new configuration starts over.
  await env.patchPolicySpec('flap', { tracing: { samplingRatePerMillion: 778 } });
  await waitFor('converged on the new config', async () => converged(await env.getPolicy('flap')));
  assert.equal(restartsByNode(env).get('node-05'), before + 2);
});
