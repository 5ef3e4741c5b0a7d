// Drift on the embedded cluster, Repair mode (the default): what a converged node holds is changed
// behind the operator's back; its agent notices and reports it, the controller hands the node its
// config again in one restart, within maxUnavailable, and the policy converges again.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { A_MESSAGE, A_STATE } from '../../src/api/annotations.js';
import { annotations, dropinOf, editFile, events, kubeletOf, removeFile, replaceFile } from '../helpers/drift.js';
import type { SimKubelet } from '../../src/sim/kubelet/index.js';
import { converged, restartsByNode, startEnv, waitFor, type Env } from '../helpers/rollout.js';

let env: Env;
// Two kubelets without --config-dir (main-config mode), six with it.
const versions = ['v1.26.15', 'v1.27.16', 'v1.30.10', 'v1.31.6', 'v1.32.2', 'v1.33.1', 'v1.34.0', 'v1.35.2'];
const MAX_UNAVAILABLE = 2;

before(async () => {
  // No flap guard here: these tests drift the same nodes again within minutes of their repair
  // (drift-modes.test.ts covers the guard).
  env = await startEnv({ nodes: 8, versions, restartMs: 60, agentDrift: { flapWindowMs: 0 } });
  await env.startController();
  await env.createPolicy('drift', {
    tracing: { endpoint: 'otel.observability.svc:4317', samplingRatePerMillion: 10_000 },
    rollout: { maxUnavailable: MAX_UNAVAILABLE, minReadySeconds: 0 },
  });
  await waitFor('converged', async () => converged(await env.getPolicy('drift')));
});
after(async () => env?.stop());

const kubelet = (name: string): SimKubelet => kubeletOf(env, name);

const byVersion = (prefix: string): string => {
  const found = [...env.cluster.kubelets.values()].find((k) => k.version.startsWith(prefix));
  if (!found) throw new Error(prefix);
  return found.nodeName;
};

/** The drift message of `node` once it is reported: in its annotations, the policy's status or
 *  the node's Warning event. The first two last only until the repair (a few tens of ms, which a
 *  poll on a loaded machine can miss); the event stays. */
function driftReported(node: string, message: RegExp): Promise<string> {
  return waitFor(`drift of ${node} reported (${String(message)})`, async () => {
    const a = await annotations(env, node);
    const p = await env.getPolicy('drift');
    const ev = (await events(env, 'TracingConfigDrifted')).filter((e) => e.involvedObject?.name === node).map((e) => e.message ?? '');
    const seen = [a[A_STATE] === 'Drifted' ? (a[A_MESSAGE] ?? '') : '', ...(p?.status?.drifted ?? []).filter((d) => d.node === node).map((d) => d.message), ...ev];
    return seen.find((m) => message.test(m));
  }, 10_000, 10);
}

async function repaired(node: string, restartsBefore: number): Promise<void> {
  // The agent's Applied report too: a repair can restart the kubelet before the status that
  // counts the node drifted is written, while the status still shows the converged rollout.
  await waitFor(`${node} repaired`, async () => {
    const p = await env.getPolicy('drift');
    if (!(converged(p) && p?.status?.driftedNodes === 0 && (restartsByNode(env).get(node) ?? 0) > restartsBefore)) return false;
    return (await annotations(env, node))[A_STATE] === 'Applied';
  });
  assert.equal(restartsByNode(env).get(node), restartsBefore + 1, `${node}: the repair is one restart`);
  assert.equal((await annotations(env, node))[A_STATE], 'Applied');
}

test('drop-in edited: reported Drifted with what changed, repaired in one restart', async () => {
  const node = byVersion('v1.30');
  const before = restartsByNode(env).get(node) ?? 0;
  const original = await readFile(dropinOf(kubelet(node)), 'utf8');
  await editFile(dropinOf(kubelet(node)), /samplingRatePerMillion: 10000/, 'samplingRatePerMillion: 5');
  const message = await driftReported(node, /90-nodetracing\.conf was changed/);
  assert.match(message, /90-nodetracing\.conf was changed: tracing\.samplingRatePerMillion is 5, want 10000/);
  await repaired(node, before);
  assert.equal(await readFile(dropinOf(kubelet(node)), 'utf8'), original, 'the drop-in is back byte for byte');
  assert.equal((kubelet(node).configz()?.kubeletconfig.tracing as { samplingRatePerMillion?: number }).samplingRatePerMillion, 10_000);
  const ev = await waitFor('Warning event', async () => (await events(env, 'TracingConfigDrifted')).find((e) => e.involvedObject?.name === node));
  assert.equal(ev.type, 'Warning');
  assert.match(ev.message ?? '', /policy drift, config \w+: 90-nodetracing\.conf was changed/);
  assert.ok((await events(env, 'NodeDrifted')).some((e) => e.involvedObject?.name === 'drift' && (e.message ?? '').startsWith(`${node}: `)));
});

test('drop-in deleted: reported and written again', async () => {
  const node = byVersion('v1.31');
  const before = restartsByNode(env).get(node) ?? 0;
  await removeFile(dropinOf(kubelet(node)));
  await driftReported(node, /90-nodetracing\.conf was deleted$/);
  await repaired(node, before);
  const dropin = parse(await readFile(dropinOf(kubelet(node)), 'utf8')) as { tracing?: unknown };
  assert.deepEqual(dropin.tracing, { endpoint: 'otel.observability.svc:4317', samplingRatePerMillion: 10_000 });
});

test('main config rewritten (kubeadm upgrade, config management): the managed keys are set again, the rest kept', async () => {
  const node = byVersion('v1.27');
  assert.equal(kubelet(node).useDropinDir, false);
  const before = restartsByNode(env).get(node) ?? 0;
  const file = kubelet(node).configFile;
  const text = await readFile(file, 'utf8');
  assert.match(text, /samplingRatePerMillion: 10000/);
  // What kubeadm writes on upgrade: its own config, without ours, plus one setting of its own.
  const rewritten = text.replace(/\ntracing:\n( {2}.*\n)+/, '\n').replace('cgroupDriver: systemd', 'cgroupDriver: systemd\nmaxPods: 150');
  assert.doesNotMatch(rewritten, /tracing/);
  await replaceFile(file, rewritten);
  await driftReported(node, /config\.yaml no longer holds what was applied: tracing is missing/);
  await repaired(node, before);
  const repairedText = await readFile(file, 'utf8');
  assert.match(repairedText, /samplingRatePerMillion: 10000/);
  assert.match(repairedText, /maxPods: 150/, "config management's own change is kept");
  assert.match(repairedText, /^# Generated by kubeadm\./m, 'comments kept');
});

test('drift on many nodes at once: every one repaired, never more than maxUnavailable restarting', async () => {
  const nodes = [...env.cluster.kubelets.values()].filter((k) => k.useDropinDir).map((k) => k.nodeName);
  assert.ok(nodes.length >= 5);
  const before = restartsByNode(env);
  await Promise.all(nodes.map((n) => removeFile(dropinOf(kubelet(n)))));
  await waitFor('every node repaired', async () => {
    const p = await env.getPolicy('drift');
    const after = restartsByNode(env);
    return converged(p) && p?.status?.driftedNodes === 0 && nodes.every((n) => (after.get(n) ?? 0) === (before.get(n) ?? 0) + 1);
  }, 30_000);
  assert.ok(env.cluster.maxConcurrentRestarts() <= MAX_UNAVAILABLE, `peak ${env.cluster.maxConcurrentRestarts()} restarting at once`);
  for (const n of nodes) assert.equal((await annotations(env, n))[A_STATE], 'Applied', n);
});
