// Kubelet upgrades are followed: a simulated kubelet upgraded mid-life restarts as the new version
// on the files we left, its Node reports the new version, and the controller hands it the render
// for that version through a normal release (or nothing, when the render is the same).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { A_STATE } from '../../src/api/annotations.js';
import { mergePatch } from '../../src/kube/client.js';
import { annotations, dropinOf, kubeletOf } from '../helpers/drift.js';
import type { SimKubelet } from '../../src/sim/kubelet/index.js';
import { converged, restartsByNode, startEnv, waitFor, type Env } from '../helpers/rollout.js';

let env: Env;
const LABEL = 'drift.test/gate';
const versions = ['v1.26.15', 'v1.26.15', 'v1.33.1', 'v1.33.1', 'v1.36.2'];
const modes: Record<string, 'Auto' | 'Always'> = { 'node-01': 'Auto', 'node-02': 'Auto', 'node-03': 'Auto', 'node-04': 'Always', 'node-05': 'Always' };

before(async () => {
  env = await startEnv({ nodes: 5, versions, restartMs: 50 });
  await env.startController();
  for (const [node, mode] of Object.entries(modes)) await env.core.patchNode({ name: node, body: { metadata: { labels: { [LABEL]: mode } } } }, mergePatch);
  for (const mode of ['Auto', 'Always'] as const) {
    await env.createPolicy(mode.toLowerCase(), { nodeSelector: { matchLabels: { [LABEL]: mode } }, featureGate: mode, tracing: { samplingRatePerMillion: 500 }, rollout: { minReadySeconds: 0 } });
  }
  await waitFor('converged', async () => converged(await env.getPolicy('auto')) && converged(await env.getPolicy('always')));
});
after(async () => env?.stop());

const kubelet = (name: string): SimKubelet => kubeletOf(env, name);
const gateRunning = (node: string): unknown => (kubelet(node).configz()?.kubeletconfig.featureGates as Record<string, unknown> | undefined)?.KubeletTracing;
const nodeVersion = async (node: string): Promise<string | undefined> => (await env.core.readNode({ name: node })).status?.nodeInfo?.kubeletVersion;

async function upgradedAndConverged(nodes: string[], version: string): Promise<void> {
  await Promise.all(nodes.map((n) => env.cluster.upgradeKubelet(n, version)));
  await waitFor('the Nodes report the new version', async () => (await Promise.all(nodes.map(nodeVersion))).every((v) => v === version));
  await waitFor('both policies converged again', async () => {
    const [a, b] = await Promise.all([env.getPolicy('auto'), env.getPolicy('always')]);
    const states = await Promise.all(nodes.map(async (n) => (await annotations(env, n))[A_STATE]));
    return converged(a) && converged(b) && states.every((s) => s === 'Applied');
  });
}

test('1.26 -> 1.27: the gate it no longer needs comes off in a rolling hand-off', async () => {
  assert.equal(gateRunning('node-01'), true);
  assert.match(await readFile(kubelet('node-01').configFile, 'utf8'), /KubeletTracing: true/);
  const before = restartsByNode(env);
  await upgradedAndConverged(['node-01', 'node-02'], 'v1.27.16');
  await waitFor('gate gone from both kubelets', () => gateRunning('node-01') === undefined && gateRunning('node-02') === undefined);
  for (const n of ['node-01', 'node-02']) {
    assert.equal(restartsByNode(env).get(n), (before.get(n) ?? 0) + 2, `${n}: the upgrade's restart, then the new render's`);
    const main = await readFile(kubelet(n).configFile, 'utf8');
    assert.doesNotMatch(main, /featureGates|KubeletTracing/, `${n}: the gate (and the map we made for it) removed`);
    assert.match(main, /samplingRatePerMillion: 500/);
  }
});

test('1.33 -> 1.34: the same render under Auto (no release); under Always the gate comes off (locked on from 1.34)', async () => {
  const dropin = async (n: string) => parse(await readFile(dropinOf(kubelet(n)), 'utf8')) as { featureGates?: unknown };
  assert.equal((await dropin('node-03')).featureGates, undefined);
  assert.deepEqual((await dropin('node-04')).featureGates, { KubeletTracing: true });
  const before = restartsByNode(env);
  await upgradedAndConverged(['node-03', 'node-04'], 'v1.34.0');
  await waitFor('the gate comes off node-04', async () => (await dropin('node-04')).featureGates === undefined);
  await waitFor('converged', async () => converged(await env.getPolicy('always')));
  assert.equal(restartsByNode(env).get('node-03'), (before.get('node-03') ?? 0) + 1, 'Auto: only the upgrade restarted it');
  assert.equal(restartsByNode(env).get('node-04'), (before.get('node-04') ?? 0) + 2, 'Always: the upgrade, then the render without the gate');
  assert.equal(kubelet('node-04').error, undefined);
});

test('1.36 -> 1.37 under Always: the gate was never written on 1.36, so the 1.37 kubelet starts', async () => {
  assert.equal((parse(await readFile(dropinOf(kubelet('node-05')), 'utf8')) as { featureGates?: unknown }).featureGates, undefined);
  const before = restartsByNode(env).get('node-05') ?? 0;
  await upgradedAndConverged(['node-05'], 'v1.37.1');
  assert.equal(kubelet('node-05').error, undefined);
  assert.equal(restartsByNode(env).get('node-05'), before + 1);
  assert.equal((kubelet('node-05').configz()?.kubeletconfig.tracing as { samplingRatePerMillion?: number }).samplingRatePerMillion, 500);
});
