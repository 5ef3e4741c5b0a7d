// verify: Configz finds drift the files cannot show: a kubelet restarted on another config while
// its files say the right thing again. The controller re-reads /configz (the agent has no right
// to), finds it disagreeing after it once agreed, and repairs the node: one restart, as any.
// The agents' own file watch is off here, so only the controller can notice.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { dropinOf, events } from '../helpers/drift.js';
import { converged, restartsByNode, samplingRate, startEnv, waitFor, type Env } from '../helpers/rollout.js';

let env: Env;

before(async () => {
  env = await startEnv({ nodes: 2, versions: ['v1.32.2'], restartMs: 50, agentDrift: false });
  await env.startController({ configzRecheckMs: 200 });
  await env.createPolicy('configz', { tracing: { samplingRatePerMillion: 777 }, rollout: { minReadySeconds: 0, verify: 'Configz' } });
  await waitFor('converged', async () => converged(await env.getPolicy('configz')));
});
after(async () => env?.stop());

const rate = (node: string): number | undefined => samplingRate(env.cluster, node);

test('a kubelet restarted on another config is found through /configz and repaired', async () => {
  const kubelet = env.cluster.kubelets.get('node-01');
  assert.ok(kubelet);
  const file = dropinOf(kubelet);
  const original = await readFile(file, 'utf8');
  const before = restartsByNode(env).get('node-01') ?? 0;
  // Someone edits the drop-in, restarts the kubelet, and puts the file back.
  await writeFile(file, original.replace('samplingRatePerMillion: 777', 'samplingRatePerMillion: 1'));
  await kubelet.restart();
  await waitFor('kubelet up on the edited file', () => rate('node-01') === 1);
  await writeFile(file, original);
  const ev = await waitFor('drift announced', async () => (await events(env, 'TracingConfigDrifted')).find((e) => e.involvedObject?.name === 'node-01'));
  assert.match(ev.message ?? '', /\/configz tracing\.samplingRatePerMillion is 1, want 777 \(the kubelet restarted with another config\)/);
  await waitFor('repaired', async () => converged(await env.getPolicy('configz')) && rate('node-01') === 777);
  assert.equal(restartsByNode(env).get('node-01'), before + 2, 'the manual restart, then one repair');
  assert.equal(restartsByNode(env).get('node-02'), 1, 'the other node untouched');
  assert.equal((await env.getPolicy('configz'))?.status?.driftedNodes, 0);
});
