// The API server replaced under a running controller (a new `kto sim` on the same port, or an
// etcd restore): resourceVersions go back, the nodes carry none of our annotations and the
// kubelets none of our drop-ins. The controller must notice that its caches describe another
// history, relist, and really roll the policy out again: never report Ready from the old cache.
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { A_APPLIED_HASH, A_POLICY, A_STATE, DROPIN_FILE } from '../../src/api/annotations.js';
import { SimCluster, type SimClusterOptions } from '../../src/sim/cluster.js';
import { formatEntry, recordingLogger } from '../helpers/log.js';
import { condition, converged, samplingRate, startEnv, waitFor, type Env } from '../helpers/rollout.js';

const OPTIONS: SimClusterOptions = { nodes: 4, versions: ['v1.30.10', 'v1.33.1'], restartMs: 40, notReadyAfterMs: 2_000, installCrd: true };
const SPEC = { tracing: { samplingRatePerMillion: 3 }, rollout: { maxUnavailable: 2, minReadySeconds: 0 } };

let env: Env;
before(async () => {
  env = await startEnv(OPTIONS);
  await env.startController();
});
after(async () => env?.stop());

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

test('API server replaced, resourceVersions back to the start: the policy applied again really rolls out', async () => {
  await env.createPolicy('p', SPEC);
  await waitFor('first rollout converged', async () => converged(await env.getPolicy('p')));
  const oldRv = env.cluster.server.store.resourceVersion;

  // `kto sim` stopped and started again on the same port: a new history, nothing of ours on it.
  const port = Number(new URL(env.cluster.url).port);
  // Same address and credentials (what the controller's kubeconfig holds), nothing else kept.
  const adminToken = env.cluster.server.adminToken;
  await env.cluster.stop();
  env.cluster = await SimCluster.start({ ...OPTIONS, port, adminToken });
  assert.ok(env.cluster.server.store.resourceVersion < oldRv, 'the new server starts from a lower resourceVersion');
  // The user applies the policy again once everything is connected again: the 4 agents'
  // watches and the controller's two.
  await waitFor('the controller watching the new server', () => env.cluster.server.store.hub.count() >= 6);

  await env.createPolicy('p', SPEC);
  // Every status the controller writes from now on must describe the new nodes: sample them all.
  const lies: string[] = [];
  const p = await waitFor('converged on the new server', async () => {
    const p = await env.getPolicy('p');
    if (condition(p, 'Ready')?.status === 'True') {
      const nodes = await env.core.listNode();
      const bare = nodes.items.filter((n) => n.metadata?.annotations?.[A_APPLIED_HASH] === undefined).map((n) => n.metadata?.name);
      if (bare.length > 0) lies.push(`Ready=True "${condition(p, 'Ready')?.message ?? ''}" while ${bare.join(', ')} carry nothing`);
    }
    return converged(p) ? p : undefined;
  }, 30_000);
  assert.deepEqual(lies, []);
  assert.equal(p.status?.updatedNodes, 4);
  for (const [name, kubelet] of env.cluster.kubelets) {
    const node = await env.core.readNode({ name });
    assert.equal(node.metadata?.annotations?.[A_POLICY], 'p', name);
    assert.equal(node.metadata?.annotations?.[A_STATE], 'Applied', name);
    assert.equal(await exists(join(kubelet.root, 'etc/kubernetes/kubelet.conf.d', DROPIN_FILE)), true, `${name}: drop-in written`);
    assert.equal(samplingRate(env.cluster, name), 3, name);
  }
});

test('etcd restored from a snapshot taken before the rollout: same kubelets and agents, the policy applied again converges for real', async () => {
  const stateDir = await mkdtemp(join(tmpdir(), 'kto-restore-'));
  const port = Number(new URL(env.cluster.url).port);
  const adminToken = env.cluster.server.adminToken;
  await env.cluster.stop();
  // The agents' last lines, every level, for the message of a wait that times out.
  const agentLines: string[] = [];
  const agentLog = recordingLogger((e) => {
    agentLines.push(`${new Date().toISOString()} ${formatEntry(e)}`);
    if (agentLines.length > 400) agentLines.splice(0, 100);
  });
  env.cluster = await SimCluster.start({ ...OPTIONS, port, stateDir, adminToken, agentLog });
  try {
    const server = env.cluster.server;
    await server.restart(); // flushes the state file: the "backup"
    const backup = await readFile(join(stateDir, 'apiserver-state.json'));
    await waitFor('the controller watching again', () => server.store.hub.count() >= 6);
    await env.createPolicy('r', { ...SPEC, tracing: { samplingRatePerMillion: 9 } });
    await waitFor('rolled out', async () => converged(await env.getPolicy('r')));
    const rolledOutRv = server.store.resourceVersion;

    await server.stop();
    await writeFile(join(stateDir, 'apiserver-state.json'), backup);
    await server.restart();
    const restoredAt = `${new Date().toISOString()}, resourceVersion ${server.store.resourceVersion} (it was ${rolledOutRv})`;
    assert.ok(server.store.resourceVersion < rolledOutRv, 'the restore took resourceVersions back');
    assert.equal(await env.getPolicy('r'), undefined, 'the restored state predates the policy');
    await waitFor('the controller watching the restored server', () => server.store.hub.count() >= 6);

    await env.createPolicy('r', { ...SPEC, tracing: { samplingRatePerMillion: 9 } });
    const p = await waitFor('converged after the restore', async () => {
      const p = await env.getPolicy('r');
      return converged(p) ? p : undefined;
    }, 20_000, 50, async () => {
      // This wait timed out now and then in full runs: an agent that took its restored Node for an
      // old copy (fixed; test/agent/restore.test.ts). Should it time out again, say what is undone.
      const p = await env.getPolicy('r');
      const nodes = await env.core.listNode();
      const state = { status: p?.status, nodes: nodes.items.map((n) => ({ name: n.metadata?.name, rv: n.metadata?.resourceVersion, annotations: n.metadata?.annotations })), kubelets: [...env.cluster.kubelets].map(([name, k]) => ({ name, ...k.status(), restarts: k.restartLog.length })) };
      return `at the timeout: ${JSON.stringify(state)}\nthe agents' last lines (the server restored at ${restoredAt}):\n${agentLines.join('\n')}`;
    });
    assert.equal(p.status?.updatedNodes, 4);
    for (const name of env.cluster.nodeNames()) {
      const node = await env.core.readNode({ name });
      assert.equal(node.metadata?.annotations?.[A_POLICY], 'r', `${name}: released again on the restored server`);
      assert.equal(node.metadata?.annotations?.[A_STATE], 'Applied', name);
    }
  } finally {
    // Stopped before its state directory goes: a running server writes its state file there.
    await env.cluster.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
});
