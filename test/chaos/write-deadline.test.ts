// Writes the API server never answers (the request or its answer lost on the way: a half-open
// connection, a black-holed network). Each fails at the writer's deadline and is retried as a
// refused write is, so a rollout still ends converged, with its status written, within
// maxUnavailable. Without a deadline, a lost status write kept every later status write of its
// policy waiting, and a lost release held its node's slot, for ever.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type NodeTracingPolicy } from '../../src/api/types.js';
import { MergePatcher, NoAnswerError } from '../../src/kube/patch.js';
import { ApiWriter } from '../../src/kube/writer.js';
import { converged, restartsByNode, startEnv, waitFor, type Env } from '../helpers/rollout.js';

const envs: Env[] = [];
after(async () => {
  for (const e of envs) await e.stop();
});

/** A server that accepts connections and reads requests, and never answers. */
async function silentServer(): Promise<{ kc: k8s.KubeConfig; sockets: Set<Socket>; close: () => void }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.resume();
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { kc, sockets, close: () => { for (const s of sockets) s.destroy(); server.close(); } };
}

test('a node patch, a status patch and an Event left unanswered fail at the deadline, naming the request, and close the connection', async () => {
  const silent = await silentServer();
  try {
    const t0 = performance.now();
    await assert.rejects(new MergePatcher(silent.kc, 300).patch('/api/v1/nodes/n1', { metadata: { annotations: { a: 'b' } } }), (err: unknown) => {
      assert.ok(err instanceof NoAnswerError, String(err));
      assert.match(err.message, /^PATCH \/api\/v1\/nodes\/n1: no answer within 0\.3 s/);
      return true;
    });
    assert.ok(performance.now() - t0 >= 290, 'not before the deadline');
    const writes: { verb: string; resource: string; ok: boolean; code: number }[] = [];
    const writer = new ApiWriter(silent.kc, { canWrite: () => true, component: 'test', deadlineMs: 300, observe: (w) => writes.push(w) });
    await assert.rejects(writer.patchPolicyStatus('p', { observedGeneration: 1 }), /^NoAnswerError: PATCH nodetracingpolicies\/p\/status: no answer within 0\.3 s/);
    await assert.rejects(writer.setPolicyFinalizers('p', [], '1'), /^NoAnswerError: PATCH nodetracingpolicies\/p: no answer within 0\.3 s/);
    await writer.event({ kind: 'Node', name: 'n1' }, 'Normal', 'Test', 'advisory: its failure is swallowed');
    await assert.rejects(writer.patchNodeAnnotations('n1', { a: null }), NoAnswerError);
    writer.close();
    assert.deepEqual(writes.map((w) => [w.verb, w.resource, w.ok, w.code]), [
      ['patch', `${PLURAL}/status`, false, 0],
      ['patch', PLURAL, false, 0],
      ['create', 'events', false, 0],
      ['patch', 'nodes', false, 0],
    ]);
    await waitFor('every connection closed by the client', () => silent.sockets.size === 0, 5_000);
  } finally {
    silent.close();
  }
});

test('a rollout whose first release and first status writes are never answered converges, its status written', async () => {
  const env = await startEnv({ nodes: 4, versions: ['v1.30.10'], restartMs: 100 });
  envs.push(env);
  const faults = env.cluster.server.faults;
  // Lost: the first node patch, which is the first hand-off (an agent writes nothing to its Node
  // before one), and the first two status writes of the policy.
  faults.failNext(1, 'stall', { verb: 'patch', resource: 'nodes' });
  faults.failNext(2, 'stall', { verb: 'patch', resource: `${PLURAL}/status` });
  await env.startController({ writeDeadlineMs: 500 });
  await env.createPolicy('p', { tracing: { endpoint: 'collector:4317', samplingRatePerMillion: 100 }, rollout: { maxUnavailable: 1, minReadySeconds: 0 } });
  const policy = (): NodeTracingPolicy | undefined => env.cluster.server.store.tryGet<NodeTracingPolicy>({ group: GROUP, version: VERSION, resource: PLURAL }, 'p');
  await waitFor('converged, status written', () => converged(policy()), 30_000);
  assert.equal(policy()?.status?.updatedNodes, 4);
  for (const [node, n] of restartsByNode(env)) assert.equal(n, 1, `${node} restarted ${n} times`);
  assert.ok(env.cluster.maxConcurrentRestarts() <= 1, `${env.cluster.maxConcurrentRestarts()} kubelets restarting at once`);
});
