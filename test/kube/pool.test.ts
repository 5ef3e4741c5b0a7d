// PooledKubeConfig: client-node's API clients reuse keep-alive connections instead of opening
// one per request; watches keep a connection of their own.

import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { ApiServer } from '../../src/sim/apiserver/index.js';
import { PooledKubeConfig } from '../../src/kube/pool.js';

const server = new ApiServer();
let connections = 0;

before(async () => {
  await server.start();
  // Connections accepted by the embedded server's HTTP listener (a private field: test only).
  const http = (server as unknown as { server: import('node:http').Server }).server;
  http.on('connection', () => connections++);
});
after(async () => server.stop());

test('requests of the generated clients share keep-alive connections', async () => {
  const kc = new PooledKubeConfig();
  kc.loadFromString(server.kubeconfigYaml());
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const before = connections;
  for (let i = 0; i < 10; i++) await core.listNamespace();
  await Promise.all(Array.from({ length: 5 }, () => core.readNamespace({ name: 'default' })));
  assert.ok(connections - before <= 5, `15 requests over ${connections - before} connections`);
  const plain = new k8s.KubeConfig();
  plain.loadFromString(server.kubeconfigYaml());
  const fresh = connections;
  for (let i = 0; i < 3; i++) await plain.makeApiClient(k8s.CoreV1Api).listNamespace();
  assert.equal(connections - fresh, 3, 'client-node on its own opens one per request');
  kc.closePools();
});

test('a watch keeps its own connection and still works through the pooled config', async () => {
  const kc = new PooledKubeConfig();
  kc.loadFromString(server.kubeconfigYaml());
  const seen: string[] = [];
  const ctl = await new k8s.Watch(kc).watch('/api/v1/namespaces', { resourceVersion: '0' }, (type, obj: k8s.V1Namespace) => seen.push(`${type} ${obj.metadata?.name ?? ''}`), () => undefined);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'pooled' } } });
  for (let i = 0; i < 100 && !seen.includes('ADDED pooled'); i++) await new Promise((r) => setTimeout(r, 20));
  ctl.abort();
  assert.ok(seen.includes('ADDED default'));
  assert.ok(seen.includes('ADDED pooled'));
  kc.closePools();
});
