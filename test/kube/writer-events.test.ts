// Events the one writer records: reportingController is the component, reportingInstance the
// replica (the pod's name, from the downward API's $POD_NAME), as kubectl describe shows them.
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { ApiWriter } from '../../src/kube/writer.js';
import { ApiServer } from '../../src/sim/apiserver/index.js';

let server: ApiServer;
let kc: k8s.KubeConfig;
before(async () => {
  server = new ApiServer({ port: 0 });
  await server.start();
  kc = new k8s.KubeConfig();
  kc.loadFromString(server.kubeconfigYaml());
});
after(async () => {
  await server.stop();
});

async function eventFor(node: string, opts: { instance?: string }): Promise<k8s.CoreV1Event | undefined> {
  const writer = new ApiWriter(kc, { canWrite: () => true, component: 'kubelet-tracing-controller', ...opts });
  await writer.event({ kind: 'Node', name: node }, 'Normal', 'NodeUpdated', 'tracing applied');
  writer.close();
  const list = await kc.makeApiClient(k8s.CoreV1Api).listNamespacedEvent({ namespace: 'default' });
  return list.items.find((e) => e.involvedObject.name === node);
}

test('reportingInstance: $POD_NAME, else the hostname; reportingComponent: the component', async () => {
  const saved = process.env.POD_NAME;
  try {
    process.env.POD_NAME = 'kto-controller-7d9f-abcde';
    const e = await eventFor('node-a', {});
    assert.equal(e?.reportingInstance, 'kto-controller-7d9f-abcde');
    assert.equal(e?.reportingComponent, 'kubelet-tracing-controller');
    assert.equal(e?.source?.component, 'kubelet-tracing-controller');
    delete process.env.POD_NAME;
    assert.equal((await eventFor('node-b', {}))?.reportingInstance, hostname());
    assert.equal((await eventFor('node-c', { instance: 'replica-2' }))?.reportingInstance, 'replica-2');
  } finally {
    if (saved === undefined) delete process.env.POD_NAME;
    else process.env.POD_NAME = saved;
  }
});
