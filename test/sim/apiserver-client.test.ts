// The embedded API server through the real @kubernetes/client-node: CRUD, conflicts, patches,
// status subresource, selectors, pagination, finalizers, watch, informer relist, faults.

import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { ApiServer, CONFIGMAPS, CRDS, NODES } from '../../src/sim/apiserver/index.js';
import { POLICIES, testPolicyCRD } from '../../src/sim/apiserver/fixtures.js';
import { waitFor } from '../helpers/poll.js';

const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const strategic = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);
const jsonPatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);

interface StatusBody {
  kind: string;
  apiVersion: string;
  status: string;
  reason: string;
  message: string;
  code: number;
  details?: { name?: string; kind?: string; group?: string; causes?: { field?: string; message: string; reason?: string }[] };
}

async function apiError(p: Promise<unknown>): Promise<{ code: number; body: StatusBody; headers: Record<string, string> }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof k8s.ApiException) {
      return { code: e.code, body: JSON.parse(String(e.body)) as StatusBody, headers: e.headers };
    }
    throw e;
  }
  throw new Error('expected an ApiException');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const until = (cond: () => boolean, ms = 5000): Promise<true> => waitFor('the condition', cond, ms, 10);

const policy = (name: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'nodetracing.dev/v1alpha1',
  kind: 'NodeTracingPolicy',
  metadata: { name },
  spec: { nodeSelector: {}, tracing: { samplingRatePerMillion: 100 }, ...spec },
});

/** fetch as the server's admin (a request without a token is system:anonymous, denied by RBAC). */
function adminFetch(server: ApiServer, url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, headers: { authorization: `Bearer ${server.adminToken}`, ...(init.headers as Record<string, string> | undefined) } });
}

describe('embedded apiserver via client-node', () => {
  const server = new ApiServer({ bookmarkIntervalMs: 100 });
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let custom: k8s.CustomObjectsApi;
  let coord: k8s.CoordinationV1Api;
  let ext: k8s.ApiextensionsV1Api;

  before(async () => {
    await server.start();
    kc = new k8s.KubeConfig();
    kc.loadFromString(server.kubeconfigYaml());
    core = kc.makeApiClient(k8s.CoreV1Api);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    coord = kc.makeApiClient(k8s.CoordinationV1Api);
    ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    // client-node's model serializer drops `default`, `enum` and x-kubernetes-* keys of plain
    // objects, so the CRD goes in through the in-process store.
    server.store.create(CRDS, testPolicyCRD());
  });
  after(async () => {
    await server.stop();
  });

  test('default namespaces, create/get, AlreadyExists and NotFound Status bodies', async () => {
    const ns = await core.listNamespace();
    assert.ok(ns.items.some((n) => n.metadata?.name === 'default'));
    assert.ok(ns.items.some((n) => n.metadata?.name === 'kube-system'));
    const created = await core.createNode({ body: { metadata: { name: 'n1', labels: { role: 'worker' } } } });
    assert.ok(created.metadata?.uid);
    assert.equal(created.metadata?.generation, 1);
    assert.match(created.metadata?.resourceVersion ?? '', /^\d+$/);
    const dup = await apiError(core.createNode({ body: { metadata: { name: 'n1' } } }));
    assert.equal(dup.code, 409);
    assert.equal(dup.body.reason, 'AlreadyExists');
    const nf = await apiError(core.readNode({ name: 'nope' }));
    assert.equal(nf.code, 404);
    assert.deepEqual({ ...nf.body, details: undefined }, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'nodes "nope" not found', reason: 'NotFound', code: 404, details: undefined });
    assert.equal(nf.body.details?.name, 'nope');
    const noNs = await apiError(core.createNamespacedConfigMap({ namespace: 'missing', body: { metadata: { name: 'x' } } }));
    assert.equal(noNs.code, 404);
    assert.equal(noNs.body.message, 'namespaces "missing" not found');
  });

  test('stale resourceVersion on update is a 409 Conflict', async () => {
    const n = await core.readNode({ name: 'n1' });
    n.metadata!.labels = { ...n.metadata?.labels, a: '1' };
    const updated = await core.replaceNode({ name: 'n1', body: n });
    assert.notEqual(updated.metadata?.resourceVersion, n.metadata?.resourceVersion);
    const stale = await apiError(core.replaceNode({ name: 'n1', body: n }));
    assert.equal(stale.code, 409);
    assert.equal(stale.body.reason, 'Conflict');
    assert.equal(stale.body.message, 'Operation cannot be fulfilled on nodes "n1": the object has been modified; please apply your changes to the latest version and try again');
  });

  test('merge, json and strategic merge patches; conditions merge by type', async () => {
    await core.patchNode({ name: 'n1', body: { metadata: { labels: { b: '2', a: null } } } }, merge);
    let n = await core.readNode({ name: 'n1' });
    assert.equal(n.metadata?.labels?.['b'], '2');
    assert.equal(n.metadata?.labels?.['a'], undefined);
    await core.patchNode({ name: 'n1', body: [{ op: 'add', path: '/metadata/labels/c', value: '3' }] }, jsonPatch);
    n = await core.readNode({ name: 'n1' });
    assert.equal(n.metadata?.labels?.['c'], '3');
    const now = new Date();
    await core.patchNodeStatus({ name: 'n1', body: { status: { conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: now }, { type: 'DiskPressure', status: 'False' }] } } }, strategic);
    await core.patchNodeStatus({ name: 'n1', body: { status: { conditions: [{ type: 'Ready', status: 'False', reason: 'KubeletNotReady' }] } } }, strategic);
    n = await core.readNode({ name: 'n1' });
    const conds = n.status?.conditions ?? [];
    assert.equal(conds.length, 2);
    assert.equal(conds.find((c) => c.type === 'Ready')?.status, 'False');
    assert.equal(conds.find((c) => c.type === 'DiskPressure')?.status, 'False');
    await core.patchNode({ name: 'n1', body: { metadata: { finalizers: ['a/b'] } } }, strategic);
    await core.patchNode({ name: 'n1', body: { metadata: { finalizers: ['c/d'] } } }, strategic);
    n = await core.readNode({ name: 'n1' });
    assert.deepEqual(n.metadata?.finalizers, ['a/b', 'c/d']);
    await core.patchNode({ name: 'n1', body: { metadata: { finalizers: null } } }, merge);
    const bad = await apiError(core.patchNode({ name: 'n1', body: [{ op: 'test', path: '/metadata/name', value: 'other' }] }, jsonPatch));
    assert.equal(bad.code, 422);
  });

  test('in-process heartbeat patch is visible over HTTP', async () => {
    server.store.patch(NODES, 'n1', 'merge', { status: { conditions: [{ type: 'Ready', status: 'True' }] } }, { subresource: 'status' });
    const n = await core.readNode({ name: 'n1' });
    assert.deepEqual(n.status?.conditions?.map((c) => c.type), ['Ready']);
  });

  test('status subresource split and generation bumps on spec changes only', async () => {
    const created = (await custom.createClusterCustomObject({ ...POLICIES, group: POLICIES.group, plural: POLICIES.resource, body: { ...policy('p1'), status: { observedGeneration: 9 } } })) as k8s.KubernetesObject & { spec: Record<string, unknown>; status?: unknown };
    assert.equal(created.status, undefined, 'status is dropped on create');
    assert.equal(created.spec['featureGate'], 'Auto', 'default applied');
    assert.equal(created.metadata?.generation, 1);
    await custom.patchClusterCustomObjectStatus({ group: POLICIES.group, version: POLICIES.version, plural: POLICIES.resource, name: 'p1', body: { status: { observedGeneration: 1 }, spec: { featureGate: 'Never' } } }, merge);
    let p = (await custom.getClusterCustomObject({ group: POLICIES.group, version: POLICIES.version, plural: POLICIES.resource, name: 'p1' })) as { spec: Record<string, unknown>; status: Record<string, unknown>; metadata: k8s.V1ObjectMeta };
    assert.equal(p.status['observedGeneration'], 1);
    assert.equal(p.spec['featureGate'], 'Auto', 'status patch ignores spec');
    assert.equal(p.metadata.generation, 1, 'status change does not bump generation');
    await custom.patchClusterCustomObject({ group: POLICIES.group, version: POLICIES.version, plural: POLICIES.resource, name: 'p1', body: { status: { observedGeneration: 5 }, metadata: { labels: { x: 'y' } } } }, merge);
    p = (await custom.getClusterCustomObject({ group: POLICIES.group, version: POLICIES.version, plural: POLICIES.resource, name: 'p1' })) as typeof p;
    assert.equal(p.status['observedGeneration'], 1, 'main resource ignores status');
    assert.equal(p.metadata.generation, 1, 'metadata change does not bump generation');
    await custom.patchClusterCustomObject({ group: POLICIES.group, version: POLICIES.version, plural: POLICIES.resource, name: 'p1', body: { spec: { featureGate: 'Always' } } }, merge);
    p = (await custom.getClusterCustomObject({ group: POLICIES.group, version: POLICIES.version, plural: POLICIES.resource, name: 'p1' })) as typeof p;
    assert.equal(p.metadata.generation, 2);
  });

  test('schema: 422 with causes, pruning, strict field validation, int-or-string', async () => {
    const create = (body: object, fieldValidation?: string) =>
      custom.createClusterCustomObject({ group: POLICIES.group, version: POLICIES.version, plural: POLICIES.resource, body, ...(fieldValidation ? { fieldValidation } : {}) });
    const inv = await apiError(create(policy('bad', { tracing: { samplingRatePerMillion: 2000000 } })));
    assert.equal(inv.code, 422);
    assert.equal(inv.body.reason, 'Invalid');
    assert.equal(inv.body.message, 'NodeTracingPolicy.nodetracing.dev "bad" is invalid: spec.tracing.samplingRatePerMillion: Invalid value: 2000000: spec.tracing.samplingRatePerMillion in body should be less than or equal to 1000000');
    assert.deepEqual(inv.body.details?.causes, [{ reason: 'FieldValueInvalid', message: 'Invalid value: 2000000: spec.tracing.samplingRatePerMillion in body should be less than or equal to 1000000', field: 'spec.tracing.samplingRatePerMillion' }]);
    const en = await apiError(create(policy('bad2', { featureGate: 'Sometimes', tracing: { endpoint: 'x'.repeat(600) } })));
    assert.equal(en.body.details?.causes?.length, 2);
    assert.ok(en.body.details?.causes?.some((c) => c.field === 'spec.featureGate' && c.reason === 'FieldValueNotSupported'));
    const ty = await apiError(create(policy('bad3', { rollout: { maxUnavailable: true } })));
    assert.equal(ty.body.details?.causes?.[0]?.field, 'spec.rollout.maxUnavailable');
    const okIntOrString = (await create(policy('ios', { rollout: { maxUnavailable: '25%' } }))) as { spec: { rollout: { maxUnavailable: unknown } } };
    assert.equal(okIntOrString.spec.rollout.maxUnavailable, '25%');
    const pruned = (await create(policy('pruned', { bogus: 1 }), 'Ignore')) as { spec: Record<string, unknown> };
    assert.equal(pruned.spec['bogus'], undefined);
    const strict = await apiError(create(policy('strict', { bogus: 1 }), 'Strict'));
    assert.equal(strict.code, 400);
    assert.match(strict.body.message, /strict decoding error: unknown field "spec.bogus"/);
  });

  test('label and field selectors on list', async () => {
    for (const [name, labels] of [['s1', { tier: 'a', env: 'prod' }], ['s2', { tier: 'b', env: 'prod' }], ['s3', { tier: 'c' }]] as const) {
      await core.createNode({ body: { metadata: { name, labels } } });
    }
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (await core.listNode({ labelSelector, fieldSelector })).items.map((n) => n.metadata?.name).filter((n) => n?.startsWith('s'));
    assert.deepEqual(await names('env=prod'), ['s1', 's2']);
    assert.deepEqual(await names('env==prod,tier!=a'), ['s2']);
    assert.deepEqual(await names('tier in (a,c)'), ['s1', 's3']);
    assert.deepEqual(await names('tier notin (a,c),tier'), ['s2']);
    assert.deepEqual(await names('!env,tier'), ['s3']);
    assert.deepEqual(await names(undefined, 'metadata.name=s2'), ['s2']);
    assert.deepEqual(await names('tier', 'metadata.name!=s2'), ['s1', 's3']);
  });

  test('pagination with limit/continue is a consistent snapshot; expired token is 410', async () => {
    for (let i = 0; i < 7; i++) await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `cm-${i}` }, data: { i: String(i) } } });
    const first = await core.listNamespacedConfigMap({ namespace: 'default', limit: 3 });
    assert.equal(first.items.length, 3);
    assert.ok(first.metadata?._continue);
    assert.equal(first.metadata?.remainingItemCount, 4);
    // Changes after the first page must not show in later pages.
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'cm-9' } } });
    await core.deleteNamespacedConfigMap({ name: 'cm-5', namespace: 'default' });
    const seen = first.items.map((c) => c.metadata?.name);
    let cont: string | undefined = first.metadata?._continue;
    while (cont) {
      const page = await core.listNamespacedConfigMap({ namespace: 'default', limit: 3, _continue: cont });
      assert.equal(page.metadata?.resourceVersion, first.metadata?.resourceVersion);
      seen.push(...page.items.map((c) => c.metadata?.name));
      cont = page.metadata?._continue;
    }
    assert.deepEqual(seen, ['cm-0', 'cm-1', 'cm-2', 'cm-3', 'cm-4', 'cm-5', 'cm-6']);
    server.store.hub.reset(server.store.resourceVersion);
    const expired = await apiError(core.listNamespacedConfigMap({ namespace: 'default', limit: 3, _continue: first.metadata?._continue ?? '' }));
    assert.equal(expired.code, 410);
  });

  test('finalizers delay deletion until removed', async () => {
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'fin', finalizers: ['kto/x'] } } });
    await core.deleteNamespacedConfigMap({ name: 'fin', namespace: 'default' });
    const marked = await core.readNamespacedConfigMap({ name: 'fin', namespace: 'default' });
    assert.ok(marked.metadata?.deletionTimestamp);
    await core.patchNamespacedConfigMap({ name: 'fin', namespace: 'default', body: { metadata: { finalizers: null } } }, merge);
    const gone = await apiError(core.readNamespacedConfigMap({ name: 'fin', namespace: 'default' }));
    assert.equal(gone.code, 404);
  });

  test('watch: ADDED/MODIFIED/DELETED, resume from resourceVersion, bookmarks', async () => {
    const events: string[] = [];
    const watch = new k8s.Watch(kc);
    const start = await coord.listNamespacedLease({ namespace: 'kube-system' });
    const ctl = await watch.watch('/apis/coordination.k8s.io/v1/namespaces/kube-system/leases', { resourceVersion: start.metadata?.resourceVersion, allowWatchBookmarks: true }, (type, obj: k8s.V1Lease) => events.push(`${type}:${obj.metadata?.name ?? ''}`), () => undefined);
    await coord.createNamespacedLease({ namespace: 'kube-system', body: { metadata: { name: 'kto-leader' }, spec: { holderIdentity: 'a' } } });
    const l = await coord.patchNamespacedLease({ namespace: 'kube-system', name: 'kto-leader', body: { spec: { holderIdentity: 'b' } } }, merge);
    await coord.deleteNamespacedLease({ namespace: 'kube-system', name: 'kto-leader' });
    await until(() => events.includes('DELETED:kto-leader') && events.some((e) => e.startsWith('BOOKMARK')));
    ctl.abort();
    assert.deepEqual(events.filter((e) => !e.startsWith('BOOKMARK')), ['ADDED:kto-leader', 'MODIFIED:kto-leader', 'DELETED:kto-leader']);
    // Resume after the MODIFIED: only the DELETED is replayed.
    const replay: string[] = [];
    const ctl2 = await watch.watch('/apis/coordination.k8s.io/v1/namespaces/kube-system/leases', { resourceVersion: l.metadata?.resourceVersion }, (type, obj: k8s.V1Lease) => replay.push(`${type}:${obj.metadata?.name ?? ''}`), () => undefined);
    await until(() => replay.length === 1);
    ctl2.abort();
    assert.deepEqual(replay, ['DELETED:kto-leader']);
  });

  test('watch honours timeoutSeconds and closes cleanly', async () => {
    const t0 = Date.now();
    const r = await adminFetch(server, `${server.url}/api/v1/namespaces?watch=true&timeoutSeconds=1`);
    assert.equal(r.headers.get('transfer-encoding'), 'chunked');
    const lines = (await r.text()).trim().split('\n');
    assert.ok(Date.now() - t0 >= 950);
    assert.ok(lines.length >= 4, 'synthetic ADDED for the existing namespaces');
    assert.ok(lines.every((l) => (JSON.parse(l) as { type: string }).type === 'ADDED'));
  });

  test('built-ins: unknown fields are dropped, warned about, or rejected under Strict', async () => {
    const post = (fv: string, name: string) =>
      adminFetch(server, `${server.url}/api/v1/namespaces/default/configmaps?fieldValidation=${fv}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, colour: 'red' }, data: { a: 'b' }, bogus: 1 }),
      });
    const strict = await post('Strict', 'u1');
    assert.equal(strict.status, 400);
    assert.match(((await strict.json()) as StatusBody).message, /strict decoding error: unknown field "bogus", unknown field "metadata.colour"/);
    const warn = await post('Warn', 'u2');
    assert.equal(warn.status, 201);
    assert.match(warn.headers.get('warning') ?? '', /299 - "unknown field \\"bogus\\""/);
    const stored = (await warn.json()) as Record<string, unknown>;
    assert.equal(stored['bogus'], undefined);
    assert.deepEqual(stored['data'], { a: 'b' });
  });

  test('object names must be RFC 1123 subdomains', async () => {
    const bad = await apiError(core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'Bad_Name' } } }));
    assert.equal(bad.code, 422);
    assert.equal(bad.body.details?.causes?.[0]?.field, 'metadata.name');
    assert.match(bad.body.message, /^ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);
  });

  test('a watch filtered by labels sees an object leave as DELETED', async () => {
    const events: string[] = [];
    const watch = new k8s.Watch(kc);
    const ctl = await watch.watch('/api/v1/nodes', { labelSelector: 'pool=blue' }, (type, obj: k8s.V1Node) => events.push(`${type}:${obj.metadata?.name ?? ''}`), () => undefined);
    await core.createNode({ body: { metadata: { name: 'w1', labels: { pool: 'blue' } } } });
    await core.patchNode({ name: 'w1', body: { metadata: { labels: { pool: 'green' } } } }, merge);
    await until(() => events.length === 2);
    ctl.abort();
    assert.deepEqual(events, ['ADDED:w1', 'DELETED:w1']);
  });

  test('informer relists after 410 Gone and dropped watches, ending with the right cache', async () => {
    const path = '/api/v1/namespaces/default/configmaps';
    const informer = k8s.makeInformer(kc, path, () => core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'inf=1' }), 'inf=1');
    const errors: unknown[] = [];
    let stopped = false;
    informer.on('error', (e) => {
      errors.push(e);
      if (!stopped) setTimeout(() => void informer.start(), 50);
    });
    await informer.start();
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'i1', labels: { inf: '1' } } } });
    await until(() => informer.list().some((c) => c.metadata?.name === 'i1'));
    server.faults.forceGoneOnNextWatch(1);
    server.faults.dropWatches();
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'i2', labels: { inf: '1' } } } });
    await core.deleteNamespacedConfigMap({ name: 'i1', namespace: 'default' });
    await until(() => {
      const names = informer.list().map((c) => c.metadata?.name).sort();
      return names.join() === 'i2';
    }, 8000);
    server.faults.dropWatches();
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'i3', labels: { inf: '1' } } } });
    await until(() => informer.list().map((c) => c.metadata?.name).sort().join() === 'i2,i3', 8000);
    stopped = true;
    await informer.stop();
  });

  test('faults: 429 with Retry-After and 500 are visible; latency applies', async () => {
    server.faults.failNext(1, 429, { verb: 'list', resource: 'nodes' });
    const tooMany = await apiError(core.listNode());
    assert.equal(tooMany.code, 429);
    assert.equal(tooMany.body.reason, 'TooManyRequests');
    assert.equal(tooMany.body.details?.kind, undefined);
    assert.equal(tooMany.headers['retry-after'], '1');
    server.faults.failNext(1, 500, { verb: 'patch' });
    assert.equal((await apiError(core.patchNode({ name: 'n1', body: {} }, merge))).code, 500);
    await core.listNode();
    server.faults.latencyMs = 80;
    const t0 = Date.now();
    await core.listNode();
    assert.ok(Date.now() - t0 >= 75);
    server.faults.reset();
  });

  test('node proxy serves the registered handler; 404 for a missing node', async () => {
    server.setNodeProxy(async (node, p) => (node === 'n1' ? { status: 200, body: JSON.stringify({ kubeletconfig: { p } }) } : { status: 503, body: 'down' }));
    const r = await adminFetch(server, `${server.url}/api/v1/nodes/n1/proxy/configz`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { kubeletconfig: { p: '/configz' } });
    assert.equal((await adminFetch(server, `${server.url}/api/v1/nodes/s1/proxy/configz`)).status, 503);
    assert.equal((await adminFetch(server, `${server.url}/api/v1/nodes/ghost/proxy/configz`)).status, 404);
  });

  test('events.k8s.io/v1 and core/v1 events share storage', async () => {
    const ev = kc.makeApiClient(k8s.EventsV1Api);
    await ev.createNamespacedEvent({ namespace: 'default', body: { metadata: { name: 'e1' }, eventTime: new k8s.V1MicroTime(), reportingController: 'kto', reportingInstance: 'kto-0', action: 'Rollout', reason: 'NodeUpdated', note: 'hello', type: 'Normal', regarding: { kind: 'Node', name: 'n1' } } });
    const coreEv = await core.readNamespacedEvent({ name: 'e1', namespace: 'default' });
    assert.equal(coreEv.message, 'hello');
    assert.equal(coreEv.involvedObject.name, 'n1');
    const list = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.name=n1' });
    assert.equal(list.items.length, 1);
  });

  test('an Event about a cluster-scoped object lives in "default" (422 elsewhere), as legacyValidateEvent has it', async () => {
    const about = { apiVersion: 'nodetracing.dev/v1alpha1', kind: 'NodeTracingPolicy', name: 'p' };
    const body = (ns: string, name: string): k8s.CoreV1Event => ({ metadata: { name, namespace: ns }, involvedObject: about, reason: 'RolloutComplete', message: 'done', type: 'Normal', firstTimestamp: new Date(), lastTimestamp: new Date(), count: 1 });
    await core.createNamespacedEvent({ namespace: 'default', body: body('default', 'p.1') });
    const wrong = await apiError(core.createNamespacedEvent({ namespace: 'kube-system', body: body('kube-system', 'p.2') }));
    assert.equal(wrong.code, 422);
    assert.equal(wrong.body.message, 'Event "p.2" is invalid: involvedObject.namespace: Invalid value: "": does not match event.namespace');
    // A new-style Event (eventTime set) may also go to kube-system; one about a namespaced object goes with it.
    const ev = kc.makeApiClient(k8s.EventsV1Api);
    const v1 = (ns: string, name: string, regarding: k8s.V1ObjectReference): Promise<unknown> =>
      ev.createNamespacedEvent({ namespace: ns, body: { metadata: { name }, eventTime: new k8s.V1MicroTime(), reportingController: 'kto', reportingInstance: 'kto-0', action: 'Rollout', reason: 'R', type: 'Normal', regarding } });
    await v1('kube-system', 'p.3', about);
    assert.equal((await apiError(v1('default', 'cm.1', { kind: 'ConfigMap', name: 'cm', namespace: 'kube-system' }))).code, 422);
  });

  test('405 for unsupported verbs, 400 for undecodable bodies, 415 for apply patches', async () => {
    assert.equal((await adminFetch(server, `${server.url}/api/v1/nodes/n1`, { method: 'POST', body: '{}' })).status, 405);
    const r = await adminFetch(server, `${server.url}/api/v1/nodes`, { method: 'POST', body: '{nope', headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 400);
    assert.equal(((await r.json()) as StatusBody).reason, 'BadRequest');
    const a = await adminFetch(server, `${server.url}/api/v1/nodes/n1?fieldManager=x`, { method: 'PATCH', body: 'metadata: {}', headers: { 'content-type': 'application/apply-patch+yaml' } });
    assert.equal(a.status, 415);
  });

  test('deleting the CRD removes its resource and objects', async () => {
    await ext.deleteCustomResourceDefinition({ name: 'nodetracingpolicies.nodetracing.dev' });
    const r = await adminFetch(server, `${server.url}/apis/nodetracing.dev/v1alpha1/nodetracingpolicies`);
    assert.equal(r.status, 404);
    const groups = (await (await adminFetch(server, `${server.url}/apis`)).json()) as { groups: { name: string }[] };
    assert.ok(!groups.groups.some((g) => g.name === 'nodetracing.dev'));
    server.store.create(CRDS, testPolicyCRD());
    const list = (await custom.listClusterCustomObject({ group: POLICIES.group, version: POLICIES.version, plural: POLICIES.resource })) as { items: unknown[] };
    assert.equal(list.items.length, 0);
  });

  test('request counts', async () => {
    server.resetRequestCounts();
    await core.listNode();
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'count' } } });
    const c = server.requestCounts();
    assert.equal(c.reads, 1);
    assert.equal(c.writes, 1);
    assert.equal(c.byVerb['create'], 1);
    void CONFIGMAPS;
  });
});

describe('persistence and restart', () => {
  let dir = '';
  let server: ApiServer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kto-apiserver-'));
    server = new ApiServer({ stateDir: dir });
    await server.start();
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('state survives restart on the same port; old watches get 410', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(server.kubeconfigYaml());
    const core = kc.makeApiClient(k8s.CoreV1Api);
    server.store.create(CRDS, testPolicyCRD());
    server.store.create(POLICIES, policy('kept'));
    const n = await core.createNode({ body: { metadata: { name: 'persist-me' } } });
    const url = server.url;
    await server.restart();
    assert.equal(server.url, url);
    const again = await core.readNode({ name: 'persist-me' });
    assert.equal(again.metadata?.uid, n.metadata?.uid);
    assert.ok(server.store.get(POLICIES, 'kept'));
    const after2 = await core.createNode({ body: { metadata: { name: 'later' } } });
    assert.ok(Number(after2.metadata?.resourceVersion) > Number(n.metadata?.resourceVersion));
    // The history is gone after a restart: resuming from before the last write is too old.
    const r = await adminFetch(server, `${server.url}/api/v1/nodes?watch=1&resourceVersion=${Number(n.metadata?.resourceVersion) - 1}`);
    const text = await r.text();
    const ev = JSON.parse(text.trim().split('\n')[0] ?? '{}') as { type: string; object: StatusBody };
    assert.equal(ev.type, 'ERROR');
    assert.equal(ev.object.code, 410);
  });

  test('stop closes open watches quickly', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(server.kubeconfigYaml());
    let done = false;
    await new k8s.Watch(kc).watch('/api/v1/nodes', {}, () => undefined, () => {
      done = true;
    });
    await sleep(50);
    const t0 = Date.now();
    await server.stop();
    assert.ok(Date.now() - t0 < 200, `stop took ${Date.now() - t0} ms`);
    await until(() => done, 2000);
    await server.start();
  });
});
