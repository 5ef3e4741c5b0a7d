// Reads at a resourceVersion the embedded API server has not reached, answered as the real one
// does (apiserver storage/cacher): a list is "Too large resource version" (504 Timeout, cause
// ResourceVersionTooLarge); a watch stays silent, bookmarks included, until the server passes
// that resourceVersion. These are what tell a client its cache belongs to another history.
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { ApiServer, NODES } from '../../src/sim/apiserver/index.js';

let server: ApiServer;
let core: k8s.CoreV1Api;
before(async () => {
  server = new ApiServer({ bookmarkIntervalMs: 30 });
  await server.start();
  const kc = new k8s.KubeConfig();
  kc.loadFromString(server.kubeconfigYaml());
  core = kc.makeApiClient(k8s.CoreV1Api);
});
after(async () => server?.stop());

const node = (name: string) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name } });

async function status(p: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof k8s.ApiException) return { code: e.code, body: JSON.parse(String(e.body)) as Record<string, unknown> };
    throw e;
  }
  throw new Error('expected an ApiException');
}

test('list at a resourceVersion the server has not reached: 504 Timeout, cause ResourceVersionTooLarge', async () => {
  const current = server.store.resourceVersion;
  for (const resourceVersionMatch of [undefined, 'NotOlderThan', 'Exact']) {
    const r = await status(core.listNode({ resourceVersion: String(current + 100), ...(resourceVersionMatch ? { resourceVersionMatch } : {}) }));
    assert.equal(r.code, 504, String(resourceVersionMatch));
    assert.deepEqual(r.body, {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 504, reason: 'Timeout',
      message: `Timeout: Too large resource version: ${current + 100}, current: ${current}`,
      details: { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 },
    });
  }
});

test('list at a reached resourceVersion: NotOlderThan gives the current state, Exact the state then', async () => {
  server.store.create(NODES, node('rv-a'));
  const at = String(server.store.resourceVersion);
  server.store.create(NODES, node('rv-b'));
  const names = (l: k8s.V1NodeList) => l.items.map((n) => n.metadata?.name).filter((n) => n?.startsWith('rv-'));
  const notOlder = await core.listNode({ resourceVersion: at, resourceVersionMatch: 'NotOlderThan' });
  assert.deepEqual(names(notOlder), ['rv-a', 'rv-b']);
  assert.equal(notOlder.metadata?.resourceVersion, String(server.store.resourceVersion));
  const exact = await core.listNode({ resourceVersion: at, resourceVersionMatch: 'Exact' });
  assert.deepEqual(names(exact), ['rv-a']);
  assert.equal(exact.metadata?.resourceVersion, at);
});

test('resourceVersionMatch without resourceVersion, or an unknown one: 422 on ListOptions', async () => {
  const r = await status(core.listNode({ resourceVersionMatch: 'NotOlderThan' }));
  assert.equal(r.code, 422);
  assert.equal(r.body['message'], 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided');
  const u = await status(core.listNode({ resourceVersion: '1', resourceVersionMatch: 'Newest' }));
  assert.equal(u.code, 422);
  assert.match(String(u.body['message']), /resourceVersionMatch: Unsupported value: "Newest"/);
});

test('watch from a resourceVersion the server has not reached: nothing until it passes it, then only newer events', async () => {
  const from = server.store.resourceVersion + 2;
  const res = await fetch(`${server.url}/api/v1/nodes?watch=true&allowWatchBookmarks=true&resourceVersion=${from}`, { headers: { Authorization: `Bearer ${server.adminToken}` } });
  assert.equal(res.status, 200, 'accepted, as the real watch cache does');
  const reader = res.body?.getReader();
  assert.ok(reader);
  const lines: { type: string; object: { metadata: { name?: string; resourceVersion: string } } }[] = [];
  let buf = '';
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += new TextDecoder().decode(value);
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        lines.push(JSON.parse(buf.slice(0, i)) as (typeof lines)[number]);
        buf = buf.slice(i + 1);
      }
    }
  })();
  server.store.create(NODES, node('w-1'));
  await new Promise((r) => setTimeout(r, 150)); // several bookmark intervals
  assert.equal(lines.length, 0, `no event and no bookmark below the requested resourceVersion: ${JSON.stringify(lines)}`);
  server.store.create(NODES, node('w-2')); // == from: not newer either
  server.store.create(NODES, node('w-3'));
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(lines.filter((l) => l.type !== 'BOOKMARK').map((l) => `${l.type}:${l.object.metadata.name ?? ''}`), ['ADDED:w-3']);
  assert.ok(lines.filter((l) => l.type === 'BOOKMARK').every((l) => Number(l.object.metadata.resourceVersion) >= from));
  await reader.cancel();
  await pump.catch(() => undefined);
});
