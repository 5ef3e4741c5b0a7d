// The one writer (src/kube/writer.ts) against the embedded API server over HTTP: what each write
// sends, what it leaves alone, how it reports to its observer, and that it refuses to write
// without leadership (before any request goes out).
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { buildCrd } from '../../src/api/crd.js';
import { newPolicy } from '../../src/api/policy.js';
import { GROUP, PLURAL, VERSION, type NodeTracingPolicy } from '../../src/api/types.js';
import { ApiWriter, NotLeaderError, type WriteObserver } from '../../src/kube/writer.js';
import { ApiServer, CRDS } from '../../src/sim/apiserver/index.js';

const ref = { group: GROUP, version: VERSION, plural: PLURAL };
let server: ApiServer;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;
let custom: k8s.CustomObjectsApi;
let writes: Parameters<WriteObserver>[0][];
let leading: boolean;
let writer: ApiWriter;

before(async () => {
  server = new ApiServer({ port: 0 });
  await server.start();
  server.store.create(CRDS, buildCrd());
  kc = new k8s.KubeConfig();
  kc.loadFromString(server.kubeconfigYaml());
  core = kc.makeApiClient(k8s.CoreV1Api);
  custom = kc.makeApiClient(k8s.CustomObjectsApi);
});
after(async () => {
  await server.stop();
});
beforeEach(() => {
  writes = [];
  leading = true;
  writer?.close();
  writer = new ApiWriter(kc, { canWrite: () => leading, component: 'test', observe: (w) => writes.push(w) });
});

test('patchNodeAnnotations sets and removes only the keys it is given', async () => {
  await core.createNode({ body: { metadata: { name: 'n1', annotations: { 'other.io/keep': 'yes', 'nodetracing.dev/state': 'Applying' } } } });
  await writer.patchNodeAnnotations('n1', { 'nodetracing.dev/desired-hash': 'abc', 'nodetracing.dev/state': null });
  const n = await core.readNode({ name: 'n1' });
  assert.deepEqual(n.metadata?.annotations, { 'other.io/keep': 'yes', 'nodetracing.dev/desired-hash': 'abc' });
  assert.deepEqual(writes.map((w) => [w.verb, w.resource, w.name, w.ok, w.code]), [['patch', 'nodes', 'n1', true, 200]]);
  assert.equal(writer.writes, 1);
});

test('a failed write is reported with its HTTP status and thrown', async () => {
  await assert.rejects(writer.patchNodeAnnotations('missing', { 'nodetracing.dev/state': 'Applied' }), (e: unknown) => e instanceof Error);
  assert.deepEqual(writes.map((w) => [w.resource, w.name, w.ok, w.code]), [['nodes', 'missing', false, 404]]);
});

test('without leadership nothing is sent: NotLeaderError, no request, no observation', async () => {
  await core.createNode({ body: { metadata: { name: 'n2' } } });
  leading = false;
  const before = server.requestCounts().writes;
  await assert.rejects(writer.patchNodeAnnotations('n2', { 'nodetracing.dev/state': 'Applied' }), NotLeaderError);
  await assert.rejects(writer.patchPolicyStatus('p', { conditions: [] }), NotLeaderError);
  await assert.rejects(writer.setPolicyFinalizers('p', [], undefined), NotLeaderError);
  // Events are advisory: refused quietly, still without a request.
  await writer.event({ kind: 'Node', name: 'n2' }, 'Normal', 'Test', 'nothing');
  assert.deepEqual(writes, []);
  assert.equal(writer.writes, 0);
  assert.equal(server.requestCounts().writes, before);
  assert.equal((await core.readNode({ name: 'n2' })).metadata?.annotations, undefined);
});

test('patchPolicyStatus writes the status subresource and leaves the spec alone', async () => {
  await custom.createClusterCustomObject({ ...ref, body: newPolicy('ps', { tracing: { samplingRatePerMillion: 5 } }) });
  await writer.patchPolicyStatus('ps', { observedGeneration: 1, targetNodes: 3, conditions: [] });
  const p = (await custom.getClusterCustomObject({ ...ref, name: 'ps' })) as NodeTracingPolicy;
  assert.equal(p.status?.targetNodes, 3);
  assert.equal(p.spec.tracing.samplingRatePerMillion, 5);
  assert.deepEqual(writes.map((w) => [w.verb, w.resource, w.code]), [['patch', `${PLURAL}/status`, 200]]);
});

test('setPolicyFinalizers is guarded by resourceVersion: a stale one is a 409 Conflict and changes nothing', async () => {
  const created = (await custom.createClusterCustomObject({ ...ref, body: newPolicy('pf') })) as NodeTracingPolicy;
  const rv = created.metadata.resourceVersion;
  await writer.setPolicyFinalizers('pf', ['nodetracing.dev/cleanup'], rv);
  const now = (await custom.getClusterCustomObject({ ...ref, name: 'pf' })) as NodeTracingPolicy;
  assert.deepEqual(now.metadata.finalizers, ['nodetracing.dev/cleanup']);
  await assert.rejects(writer.setPolicyFinalizers('pf', [], rv), (e: unknown) => e instanceof k8s.ApiException && e.code === 409);
  const still = (await custom.getClusterCustomObject({ ...ref, name: 'pf' })) as NodeTracingPolicy;
  assert.deepEqual(still.metadata.finalizers, ['nodetracing.dev/cleanup']);
  assert.deepEqual(writes.map((w) => [w.ok, w.code]), [[true, 200], [false, 409]]);
  await writer.setPolicyFinalizers('pf', [], still.metadata.resourceVersion);
});

test('event: a Warning about a Node, in the default namespace, counted as a create', async () => {
  await writer.event({ kind: 'Node', name: 'n1', uid: 'u1' }, 'Warning', 'NodeDrifted', 'drop-in edited');
  const list = await core.listNamespacedEvent({ namespace: 'default' });
  const e = list.items.find((x) => x.reason === 'NodeDrifted');
  assert.equal(e?.type, 'Warning');
  assert.deepEqual(JSON.parse(JSON.stringify(e?.involvedObject)), { kind: 'Node', name: 'n1', uid: 'u1', apiVersion: 'v1' });
  assert.deepEqual(writes.map((w) => [w.verb, w.resource, w.code]), [['create', 'events', 201]]);
});
