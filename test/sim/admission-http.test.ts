// The chart's agent guard over HTTP, end to end: the chart's ServiceAccount, RBAC and
// ValidatingAdmissionPolicy go in through client-node as admin; a node-bound token of the agent's
// ServiceAccount (TokenRequest, as `kubectl create token --bound-object-kind Node` asks for)
// patches Nodes through client-node. Needs the API server's authentication (WriteOptions.user
// on HTTP writes); skipped on a server without ServiceAccount tokens.

import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { mergePatch } from '../../src/kube/client.js';
import { ApiServer, NODES } from '../../src/sim/apiserver/index.js';
import { simNodeObject } from '../../src/sim/nodes.js';
import { type K8sObject, missingToolchain, render } from '../chart/render.js';

const hasTokens = new ApiServer().store.registry.get({ group: '', version: 'v1', resource: 'serviceaccounts' }) !== undefined;
const skip = missingToolchain() ?? (hasTokens ? false : 'the API server has no ServiceAccount tokens (authentication) on this branch');

describe('the agent guard over HTTP, with a node-bound agent token', { skip }, () => {
  const server = new ApiServer();
  let agentCore: k8s.CoreV1Api;
  let unboundCore: k8s.CoreV1Api;

  async function status(p: Promise<unknown>): Promise<{ code: number; message: string; reason: string } | undefined> {
    try {
      await p;
      return undefined;
    } catch (e: unknown) {
      if (!(e instanceof k8s.ApiException)) throw e;
      const body = JSON.parse(String(e.body)) as { code: number; message: string; reason: string };
      return { code: body.code, message: body.message, reason: body.reason };
    }
  }

  function clientWithToken(token: string): k8s.CoreV1Api {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'sim', server: server.url, skipTLSVerify: true }],
      users: [{ name: 'agent', token }],
      contexts: [{ name: 'sim', cluster: 'sim', user: 'agent' }],
      currentContext: 'sim',
    });
    return kc.makeApiClient(k8s.CoreV1Api);
  }

  before(async () => {
    await server.start();
    const kc = new k8s.KubeConfig();
    kc.loadFromString(server.kubeconfigYaml());
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const objects = kc.makeApiClient(k8s.KubernetesObjectApi);
    await core.createNamespace({ body: { metadata: { name: 'kto-system' } } });
    const wanted = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
    const rendered: K8sObject[] = render({}, { kubeVersion: 'v1.32.0' }).objects.filter((o) => wanted.has(o.kind) && o.metadata.name.includes('agent'));
    for (const o of rendered) await objects.create(o);
    for (const [i, n] of ['node-01', 'node-02'].entries()) server.store.create(NODES, simNodeObject(n, i + 1, 'v1.32.0'));
    const sa = rendered.find((o) => o.kind === 'ServiceAccount');
    assert.ok(sa);
    const uid = server.store.get(NODES, 'node-01').metadata.uid ?? '';
    const bound = await core.createNamespacedServiceAccountToken({
      name: sa.metadata.name,
      namespace: 'kto-system',
      body: { spec: { audiences: [], boundObjectRef: { apiVersion: 'v1', kind: 'Node', name: 'node-01', uid } } },
    });
    agentCore = clientWithToken(bound.status?.token ?? '');
    const unbound = await core.createNamespacedServiceAccountToken({ name: sa.metadata.name, namespace: 'kto-system', body: { spec: { audiences: [] } } });
    unboundCore = clientWithToken(unbound.status?.token ?? '');
  });
  after(async () => {
    await server.stop();
  });

  const annotate = (api: k8s.CoreV1Api, node: string, body: object): Promise<unknown> => api.patchNode({ name: node, body }, mergePatch);

  test("allowed: its own Node's nodetracing.dev/ annotations", async () => {
    assert.equal(await status(annotate(agentCore, 'node-01', { metadata: { annotations: { 'nodetracing.dev/observed': 'x' } } })), undefined);
  });

  test('denied with 403 and the policy, binding and message: another Node, a label, no node claim', async () => {
    const prefix = (node: string): string => `nodes "${node}" is forbidden: ValidatingAdmissionPolicy 'kto-kubelet-tracing-operator-agent-guard' with binding 'kto-kubelet-tracing-operator-agent-guard' denied request: `;
    const other = await status(annotate(agentCore, 'node-02', { metadata: { annotations: { 'nodetracing.dev/observed': 'x' } } }));
    assert.deepEqual(other, { code: 403, reason: 'Forbidden', message: `${prefix('node-02')}the node agent may only change the Node it runs on; this token is bound to node node-01, not node-02` });
    const label = await status(annotate(agentCore, 'node-01', { metadata: { labels: { 'node-role.kubernetes.io/control-plane': '' } } }));
    assert.equal(label?.message, `${prefix('node-01')}the node agent may not change Node labels`);
    const unbound = await status(annotate(unboundCore, 'node-01', { metadata: { annotations: { 'nodetracing.dev/observed': 'y' } } }));
    assert.equal(unbound?.message, `${prefix('node-01')}the node agent may only change the Node it runs on; this token is bound to no node, not node-01`);
  });
});
