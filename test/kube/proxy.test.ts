// A kubeconfig whose cluster has a proxy-url: the operator's own request paths (MergePatcher's
// patches, the informers' watches) go through the proxy, as client-node's generated clients do
// (client-node's proxy agent tunnels with CONNECT).
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { MergePatcher } from '../../src/kube/patch.js';
import { watchStream } from '../../src/kube/watch-stream.js';

/** The API server, reachable only through the proxy: it records what it was asked. */
const asked: { method: string; url: string; auth: string }[] = [];
const api = createServer((req: IncomingMessage, res: ServerResponse) => {
  asked.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization ?? '' });
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    if (req.method === 'PATCH') res.end(JSON.stringify({ metadata: { name: 'n1', resourceVersion: '7' } }));
    else res.end(JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'n1' } } }) + '\n');
  });
});
/** A forward proxy that tunnels (CONNECT) any host asked for to the API server above. */
const tunnels: string[] = [];
const proxy = createServer((_req, res) => res.writeHead(405).end());
proxy.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
  tunnels.push(req.url ?? '');
  const upstream = connect((api.address() as AddressInfo).port, '127.0.0.1', () => {
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on('error', () => client.destroy());
  client.on('error', () => upstream.destroy());
});
let kc: k8s.KubeConfig;

before(async () => {
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    // A name that does not resolve: only the proxy can reach it.
    clusters: [{ name: 'c', server: 'http://api.cluster.invalid:6443', skipTLSVerify: true, proxyUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` }],
    users: [{ name: 'u', token: 'tok' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
});
after(() => {
  for (const s of [proxy, api]) {
    s.closeAllConnections();
    s.close();
  }
});

test('a merge patch goes through the cluster proxy, with the credentials, and its answer is read', async () => {
  asked.length = 0;
  tunnels.length = 0;
  const p = new MergePatcher(kc);
  try {
    const node = await p.patchObject<{ metadata: { resourceVersion: string } }>('/api/v1/nodes/n1', { metadata: { annotations: { a: 'b' } } });
    assert.equal(node.metadata.resourceVersion, '7');
    await p.patch('/api/v1/nodes/n1', { metadata: { annotations: { a: 'c' } } });
  } finally {
    p.close();
  }
  assert.deepEqual(asked, [
    { method: 'PATCH', url: '/api/v1/nodes/n1', auth: 'Bearer tok' },
    { method: 'PATCH', url: '/api/v1/nodes/n1', auth: 'Bearer tok' },
  ]);
  assert.ok(tunnels.length >= 1 && tunnels.every((t) => t === 'api.cluster.invalid:6443'), tunnels.join());
});

test('a watch goes through the cluster proxy', async () => {
  asked.length = 0;
  tunnels.length = 0;
  const events: string[] = [];
  const done = new Promise<unknown>((resolve) => {
    void watchStream(kc, '/api/v1/nodes', { fieldSelector: 'metadata.name=n1' }, (type, obj) => events.push(`${type} ${(obj as { metadata: { name: string } }).metadata.name}`), resolve);
  });
  assert.equal(await done, null);
  assert.deepEqual(events, ['ADDED n1']);
  assert.equal(asked.length, 1);
  assert.equal(asked[0]?.method, 'GET');
  assert.equal(asked[0]?.url, '/api/v1/nodes?watch=true&fieldSelector=metadata.name%3Dn1');
  assert.equal(asked[0]?.auth, 'Bearer tok');
  assert.deepEqual(tunnels, ['api.cluster.invalid:6443']);
});
