// The informer against the embedded API server over HTTP: a server replaced on the same address
// (its resourceVersions gone back) is noticed and the cache rebuilt; a resource that cannot be
// listed leaves the cache not fresh, with the reason.
import { strict as assert } from 'node:assert';
import { after, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { startInformer, type Informer, type RelistReason } from '../../src/kube/informer.js';
import { ApiServer, NODES } from '../../src/sim/apiserver/index.js';
import { formatEntry, recordingLogger, type LogEntry } from '../helpers/log.js';
import { waitFor } from '../helpers/rollout.js';

const servers: ApiServer[] = [];
const informers: Informer<k8s.V1Node>[] = [];
after(async () => {
  for (const i of informers) i.stop();
  for (const s of servers) await s.stop();
});

// One admin token for every server: a replacement on the same address keeps the credentials.
const adminToken = 'kto-test-admin';

async function server(port = 0, gitVersion?: string): Promise<ApiServer> {
  const s = new ApiServer({ port, bookmarkIntervalMs: 100, adminToken, ...(gitVersion !== undefined ? { gitVersion } : {}) });
  await s.start();
  servers.push(s);
  return s;
}

const node = (name: string, annotations: Record<string, string> = {}) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, annotations } });

interface Seen {
  relists: RelistReason[];
  logs: LogEntry[];
}

function nodeInformer(kc: k8s.KubeConfig, resets: string[], seen: Seen = { relists: [], logs: [] }, watchList = false): Informer<k8s.V1Node> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const inf = startInformer<k8s.V1Node>({
    kubeConfig: kc,
    watchList,
    path: '/api/v1/nodes',
    listFn: (req) => core.listNode(req ?? {}),
    transform: (n) => JSON.parse(JSON.stringify(n)) as k8s.V1Node,
    onReset: (why) => resets.push(why),
    onRelist: (reason) => seen.relists.push(reason),
    log: recordingLogger((e) => seen.logs.push(e)),
  });
  informers.push(inf);
  return inf;
}

const view = (inf: Informer<k8s.V1Node>): string =>
  inf.list().map((n) => `${n.metadata?.name ?? ''}:${n.metadata?.annotations?.['x'] ?? '-'}`).sort().join(' ');

test('a new server on the same address, its resourceVersions gone back: the cache is rebuilt from it, and onReset says why', async () => {
  const a = await server();
  a.store.create(NODES, node('n1', { x: 'old' }));
  a.store.create(NODES, node('n2', { x: 'old' }));
  for (let i = 0; i < 30; i++) a.store.patch(NODES, 'n2', 'merge', { metadata: { labels: { i: String(i) } } });
  const kc = new k8s.KubeConfig();
  kc.loadFromString(a.kubeconfigYaml());
  const resets: string[] = [];
  const seen: Seen = { relists: [], logs: [] };
  const inf = nodeInformer(kc, resets, seen);
  await inf.synced;
  assert.equal(view(inf), 'n1:old n2:old');

  const port = Number(new URL(a.url).port);
  await a.stop();
  const b = await server(port);
  b.store.create(NODES, node('n1'));
  b.store.create(NODES, node('n3'));
  assert.ok(b.store.resourceVersion < 30);

  await waitFor('the cache shows the new server', () => view(inf) === 'n1:- n3:-', 15_000);
  assert.equal(resets.length, 1, resets.join('; '));
  assert.match(resets[0] ?? '', /has not reached resourceVersion \d+ \(HTTP 504: Timeout: Too large resource version/);
  await waitFor('fresh again', () => inf.health().fresh);
  // Counted (kto_informer_relists_total) by why, and said at warn: the cache was thrown away.
  assert.deepEqual(seen.relists.filter((r) => r === 'too_large_resource_version'), ['too_large_resource_version'], seen.relists.join(' '));
  const said = seen.logs.filter((l) => /history is not the one cached/.test(l.msg));
  assert.deepEqual(said.map((l) => l.level), ['warn'], seen.logs.map(formatEntry).join('\n'));

  // And it goes on following the new server.
  b.store.patch(NODES, 'n3', 'merge', { metadata: { annotations: { x: 'new' } } });
  await waitFor('a later change seen', () => view(inf) === 'n1:- n3:new');
});

test('a resource that cannot be listed: not fresh, and health() names the failure', async () => {
  const s = await server();
  const kc = new k8s.KubeConfig();
  kc.loadFromString(s.kubeconfigYaml());
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const inf = startInformer<{ metadata?: { name?: string } }>({
    kubeConfig: kc,
    path: '/apis/nodetracing.dev/v1alpha1/nodetracingpolicies',
    listFn: async () => (await custom.listClusterCustomObject({ group: 'nodetracing.dev', version: 'v1alpha1', plural: 'nodetracingpolicies' })) as { items: [] },
  });
  try {
    await waitFor('a failure recorded', () => inf.health().error);
    assert.equal(inf.health().fresh, false);
    assert.match(inf.health().error ?? '', /list failed: HTTP 404/);
  } finally {
    inf.stop();
  }
});

test('relists are reported with why: a dropped watch, then 410 Gone (expired); no error-level log for either', async () => {
  const s = await server();
  s.store.create(NODES, node('n1'));
  const kc = new k8s.KubeConfig();
  kc.loadFromString(s.kubeconfigYaml());
  const seen: Seen = { relists: [], logs: [] };
  const inf = nodeInformer(kc, [], seen);
  await inf.synced;
  assert.deepEqual(seen.relists, [], 'the first list is not a relist');
  s.store.patch(NODES, 'n1', 'merge', { metadata: { annotations: { x: 'watched' } } });
  await waitFor('the watch is open', () => view(inf) === 'n1:watched');
  s.faults.forceGoneOnNextWatch(1);
  s.faults.dropWatches();
  await waitFor('the 410 relist', () => seen.relists.includes('expired'), 15_000);
  // The drop itself: the connection reset (an error) or ended (closed), as client-node reports it.
  assert.match(seen.relists[0] ?? '', /^(watch_error|watch_closed)$/, seen.relists.join(' '));
  assert.deepEqual(seen.logs.filter((l) => l.level === 'error').map(formatEntry), []);
  s.store.patch(NODES, 'n1', 'merge', { metadata: { annotations: { x: 'after' } } });
  await waitFor('still following', () => view(inf) === 'n1:after');
});

// The streaming list (watchList) through client-node against servers with the WatchList gate on
// (1.32, 1.34) and off (1.33, 1.31): one watch request and no list where it is served, the
// list-and-watch path at once where it is refused, the same cache either way.
for (const [gitVersion, served] of [['v1.32.4', true], ['v1.34.0', true], ['v1.33.1', false], ['v1.31.4', false]] as const) {
  test(`watchList against ${gitVersion}: ${served ? 'one streaming watch, no list' : 'refused (422), listed and watched instead'}`, async () => {
    const s = await server(0, gitVersion);
    s.store.create(NODES, node('n1', { x: 'a' }));
    s.store.create(NODES, node('n2', { x: 'b' }));
    s.resetRequestCounts();
    const kc = new k8s.KubeConfig();
    kc.loadFromString(s.kubeconfigYaml());
    const seen: Seen = { relists: [], logs: [] };
    const inf = nodeInformer(kc, [], seen, true);
    await inf.synced;
    assert.equal(view(inf), 'n1:a n2:b');
    s.store.patch(NODES, 'n1', 'merge', { metadata: { annotations: { x: 'c' } } });
    await waitFor('the change after the initial state arrives', () => view(inf) === 'n1:c n2:b', 5_000);
    const verbs = s.requestCounts().byVerb;
    assert.deepEqual([verbs['list'] ?? 0, verbs['watch'] ?? 0], served ? [0, 1] : [1, 2], JSON.stringify(verbs));
    assert.deepEqual(inf.health(), { synced: true, fresh: true });
    assert.deepEqual(seen.relists, []);
    const fellBack = seen.logs.filter((l) => /does not serve streaming lists \(HTTP 422/.test(l.msg));
    assert.equal(fellBack.length, served ? 0 : 1, seen.logs.map(formatEntry).join('\n'));
  });
}
