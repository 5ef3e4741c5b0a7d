// The embedded cluster's agents in a worker thread (SimClusterOptions.agentThread): each is still
// the real agent over HTTP, writing its node's files and restarting its kubelet across the thread.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { A_APPLIED_HASH, A_STATE } from '../../src/api/annotations.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { dropinOf, removeFile } from '../helpers/drift.js';
import { converged, restartsByNode, startEnv, waitFor, type Env } from '../helpers/rollout.js';

let env: Env;

before(async () => {
  env = await startEnv({ nodes: 4, versions: ['v1.27.16', 'v1.33.1'], restartMs: 50, agentThread: {}, agentDrift: { flapWindowMs: 0 } });
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
    const configz = env.cluster.kubelets.get(name)?.configz();
    assert.deepEqual(configz?.kubeletconfig.tracing, { endpoint: 'otel-collector.observability.svc:4317', samplingRatePerMillion: 777 });
  }
});

test('the drift options reach the thread: a deleted drop-in is reported and put back in one restart', async () => {
  const k = [...env.cluster.kubelets.values()].find((x) => x.useDropinDir);
  assert.ok(k, 'a node with a drop-in dir');
  const before = restartsByNode(env).get(k.nodeName) ?? 0;
  await removeFile(dropinOf(k));
  await waitFor('drop-in back', async () => {
    const a = (await env.core.readNode({ name: k.nodeName })).metadata?.annotations ?? {};
    return a[A_STATE] === 'Applied' && (restartsByNode(env).get(k.nodeName) ?? 0) === before + 1 && converged(await env.getPolicy('all'));
  });
  const configz = k.configz();
  assert.deepEqual(configz?.kubeletconfig.tracing, { endpoint: 'otel-collector.observability.svc:4317', samplingRatePerMillion: 777 });
});

test('the agents\' thread tells its kernel thread id: a thread of this process, not the API server\'s, with CPU time of its own', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  await waitFor('thread id told', async () => env.cluster.agentThreadId !== undefined);
  const tid = env.cluster.agentThreadId ?? 0;
  assert.notEqual(tid, process.pid);
  assert.ok(readdirSync(`/proc/${process.pid}/task`).includes(String(tid)), `${tid} is a thread of this process`);
  // It loaded the agents and rolled the policy out: tens of ms at least, in 10 ms ticks (utime
  // and stime, the 14th and 15th fields of its stat, counted after the command's parentheses).
  const fields = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  assert.ok(Number(fields[11]) + Number(fields[12]) > 0, 'the thread has CPU time of its own');
});

test('per-agent functions cannot reach a worker thread: refused, naming the options', async () => {
  await assert.rejects(
    SimCluster.start({ nodes: 1, agentThread: {}, agentHooks: () => ({}) }),
    /SimClusterOptions\.agentThread: agentLog, agentHooks, agentKubeConfig and agentDrift\.watch are functions/,
  );
  await assert.rejects(SimCluster.start({ nodes: 1, agentThread: {}, agentDrift: { watch: () => { throw new Error('unused'); } } }), /agentDrift\.watch/);
});
