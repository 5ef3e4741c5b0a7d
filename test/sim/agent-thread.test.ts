// The embedded cluster's agents in a worker thread (SimClusterOptions.agentThread): each is still
// the real agent over HTTP, writing its node's files and restarting its kubelet across the thread.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { A_APPLIED_HASH, A_STATE } from '../../src/api/annotations.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { converged, restartsByNode, startEnv, waitFor, type Env } from '../helpers/rollout.js';

let env: Env;

before(async () => {
  env = await startEnv({ nodes: 4, versions: ['v1.27.16', 'v1.33.1'], restartMs: 50, agentThread: {} });
  await env.startController();
  await env.createPolicy('all', {
    nodeSelector: {},
    tracing: { endpoint: 'otel-collector.observability.svc:4317', samplingRatePerMillion: 777 },
    rollout: { maxUnavailable: 2, minReadySeconds: 0, verify: 'Configz' },
  });
});
after(async () => env?.stop());

test('agents in a worker thread roll a policy out: files written, kubelets restarted once, reports on the Nodes', async () => {
  await waitFor('policy converged', async () => converged(await env.getPolicy('all')));
  const restarts = restartsByNode(env);
  for (const name of env.cluster.kubelets.keys()) {
    assert.equal(restarts.get(name), 1, `${name} restarted once`);
    const ann = (await env.core.readNode({ name })).metadata?.annotations ?? {};
    assert.equal(ann[A_STATE], 'Applied', name);
    assert.ok(ann[A_APPLIED_HASH], name);
    const configz = env.cluster.kubelets.get(name)?.configz() as { kubeletconfig: { tracing?: unknown } } | undefined;
    assert.deepEqual(configz?.kubeletconfig.tracing, { endpoint: 'otel-collector.observability.svc:4317', samplingRatePerMillion: 777 });
  }
});

test('per-agent functions cannot reach a worker thread: refused, naming the options', async () => {
  await assert.rejects(
    SimCluster.start({ nodes: 1, agentThread: {}, agentHooks: () => ({}) }),
    /SimClusterOptions\.agentThread: agentLog, agentHooks and agentKubeConfig are functions/,
  );
});
