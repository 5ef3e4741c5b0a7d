// Embedded API server rules the real one has: a name too long gets the length message (not only
// the character rule's), and a CRD is deleted the way apiextensions does it: marked Terminating
// with its cleanup finalizer, its instances deleted (each waiting on its own finalizers), new
// instances refused, and the CRD gone with the last instance.
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { CRD_NAME } from '../../src/api/crd.js';
import { buildCrd } from '../../src/api/crd.js';
import { ApiServer, CRDS, NODES } from '../../src/sim/apiserver/index.js';
import { newPolicy } from '../../src/api/policy.js';

let server: ApiServer;
let core: k8s.CoreV1Api;
let custom: k8s.CustomObjectsApi;
before(async () => {
  server = new ApiServer();
  await server.start();
  const kc = new k8s.KubeConfig();
  kc.loadFromString(server.kubeconfigYaml());
  core = kc.makeApiClient(k8s.CoreV1Api);
  custom = kc.makeApiClient(k8s.CustomObjectsApi);
});
after(async () => server?.stop());

async function failure(p: Promise<unknown>): Promise<{ code: number; body: { message: string; reason: string; details?: { causes?: { field?: string; message: string }[] } } }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof k8s.ApiException) return { code: e.code, body: JSON.parse(String(e.body)) as never };
    throw e;
  }
  throw new Error('expected an ApiException');
}

test('a 300-character name: the length rule is reported', async () => {
  const long = 'a'.repeat(300);
  const r = await failure(core.createNode({ body: { metadata: { name: long } } }));
  assert.equal(r.code, 422);
  assert.equal(r.body.message, `Node "${long}" is invalid: metadata.name: Invalid value: "${long}": must be no more than 253 characters`);
  const both = await failure(core.createNode({ body: { metadata: { name: 'A'.repeat(254) } } }));
  assert.deepEqual(both.body.details?.causes?.map((c) => c.message.replace(/^Invalid value: "A+": /, '')), [
    'must be no more than 253 characters',
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  ]);
  server.store.create(NODES, { metadata: { name: 'a'.repeat(253) } }); // exactly 253 is fine
});

test('deleting a CRD waits for its instances: finalizers honoured, creates refused, then it goes', async () => {
  server.store.create(CRDS, buildCrd());
  const ref = { group: 'nodetracing.dev', version: 'v1alpha1', plural: 'nodetracingpolicies' };
  const policy = (name: string, finalizers: string[] = []) => newPolicy(name, {}, { finalizers });
  await custom.createClusterCustomObject({ ...ref, body: policy('held', ['nodetracing.dev/cleanup']) });
  await custom.createClusterCustomObject({ ...ref, body: policy('free') });

  server.store.delete(CRDS, CRD_NAME);
  const crd = server.store.get<{ metadata: { deletionTimestamp?: string; finalizers?: string[] }; status: { conditions: { type: string; status: string }[] } }>(CRDS, CRD_NAME);
  assert.ok(crd.metadata.deletionTimestamp, 'marked for deletion, still there');
  assert.deepEqual(crd.metadata.finalizers, ['customresourcecleanup.apiextensions.k8s.io']);
  assert.ok(crd.status.conditions.some((c) => c.type === 'Terminating' && c.status === 'True'));
  const items = ((await custom.listClusterCustomObject(ref)) as { items: { metadata: { name: string; deletionTimestamp?: string } }[] }).items;
  assert.deepEqual(items.map((i) => i.metadata.name), ['held'], 'the instance without finalizers is gone');
  assert.ok(items[0]?.metadata.deletionTimestamp, 'the one with a finalizer waits for it');

  const refused = await failure(custom.createClusterCustomObject({ ...ref, body: policy('late') }));
  assert.equal(refused.code, 405);
  assert.equal(refused.body.message, 'create not allowed while custom resource definition is terminating');

  // The owner of the finalizer lets its instance go: the CRD follows.
  await custom.patchClusterCustomObject({ ...ref, name: 'held', body: { metadata: { finalizers: null } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
  assert.equal(server.store.tryGet(CRDS, CRD_NAME), undefined);
  assert.equal((await failure(custom.listClusterCustomObject(ref))).code, 404);
});
