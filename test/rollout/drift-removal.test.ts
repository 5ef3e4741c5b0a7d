// Removal is drift too: our drop-in back on a node after the policy was deleted, or after the
// node left the selector (and the controller cleared the node's hand-off), is reported by the
// node's agent and taken off again, one node at a time, by the controller.
import assert from 'node:assert/strict';
import { access, writeFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { ANNOTATION_PREFIX, A_STATE } from '../../src/api/annotations.js';
import { mergePatch } from '../../src/kube/client.js';
import { annotations, dropinOf, events, kubeletOf } from '../helpers/drift.js';
import type { SimKubelet } from '../../src/sim/kubelet/index.js';
import { converged, restartsByNode, startEnv, waitFor, type Env } from '../helpers/rollout.js';

let env: Env;
const LABEL = 'drift.test/removal';

before(async () => {
  env = await startEnv({ nodes: 4, versions: ['v1.33.1', 'v1.34.0'], restartMs: 50 });
  await env.startController();
});
after(async () => env?.stop());

const kubelet = (name: string): SimKubelet => kubeletOf(env, name);

const label = (node: string, value: string | null) => env.core.patchNode({ name: node, body: { metadata: { labels: { [LABEL]: value } } } }, mergePatch);

const clean = async (node: string): Promise<boolean> =>
  !Object.keys(await annotations(env, node)).some((k) => k.startsWith(ANNOTATION_PREFIX)) && !(await exists(dropinOf(kubelet(node))));

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/** Puts our drop-in back as a restored backup would (the same bytes), and waits for the node to
 *  be clean again: reported, removed with one restart, its hand-off cleared. */
async function reappearsAndGoes(node: string, bytes: string): Promise<void> {
  const before = restartsByNode(env).get(node) ?? 0;
  await writeFile(dropinOf(kubelet(node)), bytes);
  await waitFor('reported', async () => (await events(env, 'TracingConfigDrifted')).find((e) => e.involvedObject?.name === node && /is back after our configuration was removed/.test(e.message ?? '')));
  await waitFor(`${node} clean again`, () => clean(node));
  assert.equal(restartsByNode(env).get(node), before + 1, 'taken off in one restart');
  assert.equal('tracing' in (kubelet(node).configz()?.kubeletconfig ?? {}), false);
}

test('a drop-in back after its policy was deleted is taken off again', async () => {
  await label('node-01', 'gone');
  await env.createPolicy('gone', { nodeSelector: { matchLabels: { [LABEL]: 'gone' } }, tracing: { samplingRatePerMillion: 31 }, rollout: { minReadySeconds: 0 } });
  await waitFor('converged', async () => converged(await env.getPolicy('gone')));
  const { readFile } = await import('node:fs/promises');
  const bytes = await readFile(dropinOf(kubelet('node-01')), 'utf8');
  await env.custom.deleteClusterCustomObject({ group: 'nodetracing.dev', version: 'v1alpha1', plural: 'nodetracingpolicies', name: 'gone' });
  await waitFor('policy gone and node clean', async () => (await env.getPolicy('gone')) === undefined && (await clean('node-01')));
  await reappearsAndGoes('node-01', bytes);
  const ev = (await events(env, 'TracingConfigDrifted')).find((e) => e.involvedObject?.name === 'node-01');
  assert.match(ev?.message ?? '', /^no policy \(its configuration was removed\), config removed: 90-nodetracing\.conf is back/);
});

test('a drop-in back after the node left the selector is taken off again; the policy keeps its other nodes', async () => {
  await label('node-02', 'left');
  await label('node-03', 'left');
  await env.createPolicy('left', { nodeSelector: { matchLabels: { [LABEL]: 'left' } }, tracing: { samplingRatePerMillion: 32 }, rollout: { minReadySeconds: 0 } });
  await waitFor('converged', async () => converged(await env.getPolicy('left')));
  const { readFile } = await import('node:fs/promises');
  const bytes = await readFile(dropinOf(kubelet('node-02')), 'utf8');
  await label('node-02', null);
  await waitFor('node-02 clean', () => clean('node-02'));
  await reappearsAndGoes('node-02', bytes);
  const p = await env.getPolicy('left');
  assert.ok(converged(p));
  assert.equal(p?.status?.targetNodes, 1);
  assert.equal((await annotations(env, 'node-03'))[A_STATE], 'Applied');
});
