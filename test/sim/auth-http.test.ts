// Authentication and RBAC of the embedded API server over HTTP: the real client-node with tokens
// the server minted, and raw requests where headers matter (no token, bad tokens, impersonation).
// Every case asserts the status code and the real message.

import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { ApiServer, CLUSTERROLEBINDINGS, CLUSTERROLES, DEPLOYMENTS, NAMESPACES, NODES, ROLEBINDINGS, ROLES, SERVICEACCOUNTS } from '../../src/sim/apiserver/index.js';
import { POLICIES, realisticNode, testPolicyCRD } from '../../src/sim/apiserver/fixtures.js';
import { CRDS } from '../../src/sim/apiserver/types.js';
import { newPolicy } from '../../src/api/policy.js';

const NS = 'kto-system';
const AGENT = `system:serviceaccount:${NS}:kto-agent`;
const CONTROLLER = `system:serviceaccount:${NS}:kto-controller`;

interface Reply {
  status: number;
  body: { message?: string; reason?: string; code?: number; status?: Record<string, unknown>; [k: string]: unknown };
}

function chartLikeRbac(server: ApiServer): void {
  const s = server.store;
  s.create(NAMESPACES, { metadata: { name: NS } });
  for (const name of ['kto-agent', 'kto-controller', 'impersonator']) s.create(SERVICEACCOUNTS, { metadata: { name, namespace: NS } });
  s.create(CLUSTERROLES, { metadata: { name: 'kto-agent' }, rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch', 'patch'] }] });
  s.create(CLUSTERROLES, {
    metadata: { name: 'kto-controller' },
    rules: [
      { apiGroups: ['nodetracing.dev'], resources: ['nodetracingpolicies'], verbs: ['get', 'list', 'watch', 'patch', 'update'] },
      { apiGroups: ['nodetracing.dev'], resources: ['nodetracingpolicies/status'], verbs: ['get', 'patch', 'update'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch', 'patch'] },
    ],
  });
  s.create(CLUSTERROLES, { metadata: { name: 'impersonate-bob' }, rules: [{ apiGroups: [''], resources: ['users'], resourceNames: ['bob'], verbs: ['impersonate'] }, { apiGroups: [''], resources: ['groups'], verbs: ['impersonate'] }] });
  for (const [name, sa] of [['kto-agent', 'kto-agent'], ['kto-controller', 'kto-controller'], ['impersonate-bob', 'impersonator']]) {
    s.create(CLUSTERROLEBINDINGS, { metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [{ kind: 'ServiceAccount', name: sa, namespace: NS }] });
  }
  s.create(ROLES, {
    metadata: { name: 'leader', namespace: NS },
    rules: [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['kto-leader'], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['kto-cert'], verbs: ['get', 'list', 'watch'] },
    ],
  });
  s.create(ROLEBINDINGS, { metadata: { name: 'leader', namespace: NS }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'leader' }, subjects: [{ kind: 'ServiceAccount', name: 'kto-controller' }] });
  s.create(ROLEBINDINGS, { metadata: { name: 'dangling', namespace: 'default' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'missing' }, subjects: [{ kind: 'ServiceAccount', name: 'kto-agent', namespace: NS }] });
}

describe('authentication and RBAC over HTTP', () => {
  let dir = '';
  let server: ApiServer;
  let agentToken = '';
  let controllerToken = '';

  const call = async (token: string | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> => {
    const h: Record<string, string> = { ...headers };
    if (token !== undefined) h['authorization'] = `Bearer ${token}`;
    if (body !== undefined) h['content-type'] ??= method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
    const r = await fetch(`${server.url}${path}`, { method, headers: h, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await r.text();
    let parsed: Reply['body'];
    try {
      parsed = JSON.parse(text) as Reply['body'];
    } catch {
      parsed = { text };
    }
    return { status: r.status, body: parsed };
  };
  const expectForbidden = (r: Reply, message: string): void => {
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(r.body.reason, 'Forbidden');
    assert.equal(r.body.message, message);
  };
  const client = <T extends k8s.ApiType>(token: string, api: new (c: k8s.Configuration) => T): T => {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(server.kubeconfigYaml({ token }));
    return kc.makeApiClient(api);
  };
  const apiError = async (p: Promise<unknown>): Promise<{ code: number; message: string }> => {
    try {
      await p;
    } catch (e) {
      if (e instanceof k8s.ApiException) return { code: e.code, message: (JSON.parse(String(e.body)) as { message: string }).message };
      throw e;
    }
    assert.fail('expected an ApiException');
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kto-auth-'));
    server = new ApiServer({ stateDir: dir, gitVersion: 'v1.32.0' });
    await server.start();
    for (let i = 1; i <= 2; i++) server.store.create(NODES, realisticNode(i, 'v1.32.2'));
    server.store.create(CRDS, testPolicyCRD());
    chartLikeRbac(server);
    agentToken = server.tokenFor(NS, 'kto-agent', { boundNode: 'node-00001' });
    controllerToken = server.tokenFor(NS, 'kto-controller');
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('no token: system:anonymous may read /version and /healthz, nothing else', async () => {
    assert.equal((await call(undefined, 'GET', '/version')).status, 200);
    assert.equal((await call(undefined, 'GET', '/healthz')).body['text'], 'ok');
    expectForbidden(await call(undefined, 'GET', '/apis'), 'forbidden: User "system:anonymous" cannot get path "/apis"');
    expectForbidden(await call(undefined, 'GET', '/api/v1/nodes'), 'nodes is forbidden: User "system:anonymous" cannot list resource "nodes" in API group "" at the cluster scope');
  });

  test('a malformed, foreign or tampered token is a 401 with the real Status', async () => {
    const other = new ApiServer();
    const foreign = (() => {
      other.store.create(SERVICEACCOUNTS, { metadata: { name: 'kto-agent', namespace: 'default' } });
      return other.tokenFor('default', 'kto-agent');
    })();
    const parts = agentToken.split('.');
    const tampered = `${parts[0]}.${Buffer.from(JSON.stringify({ sub: 'system:admin' })).toString('base64url')}.${parts[2]}`;
    for (const t of ['not-a-jwt', foreign, tampered]) {
      const r = await call(t, 'GET', '/api/v1/nodes');
      assert.equal(r.status, 401);
      assert.deepEqual(r.body, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    }
  });

  test('the admin token is system:masters; discovery is open to any authenticated user', async () => {
    assert.equal((await call(server.adminToken, 'GET', '/api/v1/namespaces/kube-system/secrets')).status, 200);
    assert.equal((await call(agentToken, 'GET', '/apis')).status, 200);
    assert.equal((await call(agentToken, 'GET', '/openapi/v3')).status, 200);
  });

  test('agent (client-node): reads and patches nodes; nodes/status, delete, secrets and policies are forbidden', async () => {
    const core = client(agentToken, k8s.CoreV1Api);
    assert.equal((await core.listNode()).items.length, 2);
    assert.equal((await call(agentToken, 'PATCH', '/api/v1/nodes/node-00002', { metadata: { annotations: { 'nodetracing.dev/x': '1' } } })).status, 200, 'RBAC cannot narrow patch to its own node (that is the admission guard)');
    let e = await apiError(core.patchNodeStatus({ name: 'node-00001', body: { status: {} } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)));
    assert.deepEqual(e, { code: 403, message: `nodes "node-00001" is forbidden: User "${AGENT}" cannot patch resource "nodes/status" in API group "" at the cluster scope` });
    e = await apiError(core.deleteNode({ name: 'node-00002' }));
    assert.deepEqual(e, { code: 403, message: `nodes "node-00002" is forbidden: User "${AGENT}" cannot delete resource "nodes" in API group "" at the cluster scope` });
    e = await apiError(core.listNamespacedSecret({ namespace: NS }));
    assert.deepEqual(e, { code: 403, message: `secrets is forbidden: User "${AGENT}" cannot list resource "secrets" in API group "" in the namespace "${NS}"` });
    expectForbidden(await call(agentToken, 'GET', '/apis/nodetracing.dev/v1alpha1/nodetracingpolicies'), `nodetracingpolicies.nodetracing.dev is forbidden: User "${AGENT}" cannot list resource "nodetracingpolicies" in API group "nodetracing.dev" at the cluster scope`);
  });

  test('a RoleBinding to a missing Role: the denial names it', async () => {
    expectForbidden(await call(agentToken, 'GET', '/api/v1/namespaces/default/configmaps/x'), `configmaps "x" is forbidden: User "${AGENT}" cannot get resource "configmaps" in API group "" in the namespace "default": RBAC: role.rbac.authorization.k8s.io "missing" not found`);
  });

  test('controller (client-node): policies and their status, leases by name, secrets by name only', async () => {
    const custom = client(controllerToken, k8s.CustomObjectsApi);
    server.store.create(POLICIES, newPolicy('p1', { nodeSelector: {}, tracing: { samplingRatePerMillion: 1 } }));
    await custom.patchClusterCustomObject({ group: 'nodetracing.dev', version: 'v1alpha1', plural: 'nodetracingpolicies', name: 'p1', body: { metadata: { finalizers: ['nodetracing.dev/cleanup'] } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    await custom.patchClusterCustomObjectStatus({ group: 'nodetracing.dev', version: 'v1alpha1', plural: 'nodetracingpolicies', name: 'p1', body: { status: { targetNodes: 2 } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    const e = await apiError(custom.deleteClusterCustomObject({ group: 'nodetracing.dev', version: 'v1alpha1', plural: 'nodetracingpolicies', name: 'p1' }));
    assert.deepEqual(e, { code: 403, message: `nodetracingpolicies.nodetracing.dev "p1" is forbidden: User "${CONTROLLER}" cannot delete resource "nodetracingpolicies" in API group "nodetracing.dev" at the cluster scope` });
    const coord = client(controllerToken, k8s.CoordinationV1Api);
    await coord.createNamespacedLease({ namespace: NS, body: { metadata: { name: 'kto-leader' }, spec: { holderIdentity: 'a' } } });
    assert.equal((await coord.readNamespacedLease({ namespace: NS, name: 'kto-leader' })).spec?.holderIdentity, 'a');
    expectForbidden(await call(controllerToken, 'GET', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/other`), `leases.coordination.k8s.io "other" is forbidden: User "${CONTROLLER}" cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "${NS}"`);
    expectForbidden(await call(controllerToken, 'POST', '/apis/coordination.k8s.io/v1/namespaces/default/leases', { metadata: { name: 'x' } }), `leases.coordination.k8s.io is forbidden: User "${CONTROLLER}" cannot create resource "leases" in API group "coordination.k8s.io" in the namespace "default"`);
    // resourceNames and lists: a list pinned to the name by fieldSelector carries it; a plain list does not.
    assert.equal((await call(controllerToken, 'GET', `/api/v1/namespaces/${NS}/secrets?fieldSelector=metadata.name%3Dkto-cert`)).status, 200);
    expectForbidden(await call(controllerToken, 'GET', `/api/v1/namespaces/${NS}/secrets`), `secrets is forbidden: User "${CONTROLLER}" cannot list resource "secrets" in API group "" in the namespace "${NS}"`);
    expectForbidden(await call(controllerToken, 'GET', `/api/v1/namespaces/${NS}/configmaps`), `configmaps is forbidden: User "${CONTROLLER}" cannot list resource "configmaps" in API group "" in the namespace "${NS}"`);
  });

  test('TokenRequest: expiration honoured, validated, only for existing ServiceAccounts, and RBAC-checked', async () => {
    const before = Date.now();
    const r = await call(server.adminToken, 'POST', `/api/v1/namespaces/${NS}/serviceaccounts/kto-agent/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } });
    assert.equal(r.status, 201);
    const exp = Date.parse(String(r.body.status?.['expirationTimestamp']));
    assert.ok(exp >= before + 599_000 && exp <= Date.now() + 601_000, 'expires in 600 s');
    const short = await call(server.adminToken, 'POST', `/api/v1/namespaces/${NS}/serviceaccounts/kto-agent/token`, { spec: { expirationSeconds: 30 } });
    assert.equal(short.status, 422);
    assert.equal(short.body.message, 'TokenRequest.authentication.k8s.io "kto-agent" is invalid: spec.expirationSeconds: Invalid value: 30: may not specify a duration less than 10 minutes');
    const ghost = await call(server.adminToken, 'POST', `/api/v1/namespaces/${NS}/serviceaccounts/ghost/token`, { spec: {} });
    assert.equal(ghost.status, 404);
    assert.equal(ghost.body.message, 'serviceaccounts "ghost" not found');
    expectForbidden(await call(agentToken, 'POST', `/api/v1/namespaces/${NS}/serviceaccounts/kto-agent/token`, { spec: {} }), `serviceaccounts "kto-agent" is forbidden: User "${AGENT}" cannot create resource "serviceaccounts/token" in API group "" in the namespace "${NS}"`);
  });

  test('whoami (SelfSubjectReview) shows the node claim of a Node-bound token', async () => {
    const r = await call(agentToken, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
    assert.equal(r.status, 201);
    const u = r.body.status?.['userInfo'] as { username: string; groups: string[]; extra: Record<string, string[]>; uid: string };
    assert.equal(u.username, AGENT);
    assert.deepEqual(u.groups, ['system:serviceaccounts', `system:serviceaccounts:${NS}`, 'system:authenticated']);
    assert.deepEqual(u.extra['authentication.kubernetes.io/node-name'], ['node-00001']);
    assert.equal(u.uid, server.store.get(SERVICEACCOUNTS, 'kto-agent', NS).metadata.uid);
  });

  test('can-i (SelfSubjectAccessReview) and SubjectAccessReview for admins only', async () => {
    const ssar = (token: string, ra: object): Promise<Reply> => call(token, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { spec: { resourceAttributes: ra } });
    assert.equal((await ssar(agentToken, { verb: 'patch', resource: 'nodes' })).body.status?.['allowed'], true);
    assert.equal((await ssar(agentToken, { verb: 'get', resource: 'secrets', namespace: NS })).body.status?.['allowed'], false);
    const sar = { spec: { user: CONTROLLER, groups: ['system:serviceaccounts'], resourceAttributes: { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', name: 'kto-leader', namespace: NS } } };
    const r = await call(server.adminToken, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', sar);
    assert.equal(r.status, 201);
    assert.deepEqual(r.body.status, { allowed: true, reason: `RBAC: allowed by RoleBinding "leader/${NS}" of Role "leader" to ServiceAccount "kto-controller/${NS}"` });
    expectForbidden(await call(agentToken, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', sar), `subjectaccessreviews.authorization.k8s.io is forbidden: User "${AGENT}" cannot create resource "subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope`);
  });

  test('impersonation: allowed user and groups; another user, or groups without a user, are refused', async () => {
    const token = server.tokenFor(NS, 'impersonator');
    const whoami = (h: Record<string, string>): Promise<Reply> => call(token, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {}, h);
    const ok = await whoami({ 'Impersonate-User': 'bob', 'Impersonate-Group': 'devs' });
    assert.equal(ok.status, 201);
    assert.deepEqual(ok.body.status?.['userInfo'], { username: 'bob', groups: ['devs', 'system:authenticated'] });
    const impersonator = `system:serviceaccount:${NS}:impersonator`;
    expectForbidden(await whoami({ 'Impersonate-User': 'carol' }), `users "carol" is forbidden: User "${impersonator}" cannot impersonate resource "users" in API group "" at the cluster scope`);
    expectForbidden(await whoami({ 'Impersonate-User': 'bob', 'Impersonate-Uid': '42' }), `uids.authentication.k8s.io "42" is forbidden: User "${impersonator}" cannot impersonate resource "uids" in API group "authentication.k8s.io" at the cluster scope`);
    const noUser = await whoami({ 'Impersonate-Group': 'devs' });
    assert.equal(noUser.status, 500);
    assert.equal(noUser.body.message, 'Internal error occurred: requested [{Group  devs    }] without impersonating a user');
    // The admin impersonating the agent's ServiceAccount acts as it, groups included.
    const asAgent = await call(server.adminToken, 'GET', '/api/v1/nodes', undefined, { 'Impersonate-User': AGENT });
    assert.equal(asAgent.status, 200);
    expectForbidden(await call(server.adminToken, 'DELETE', '/api/v1/nodes/node-00002', undefined, { 'Impersonate-User': AGENT }), `nodes "node-00002" is forbidden: User "${AGENT}" cannot delete resource "nodes" in API group "" at the cluster scope`);
  });

  test('RBAC objects are validated as a real server does', async () => {
    const cr = await call(server.adminToken, 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', { metadata: { name: 'system:x' }, rules: [{ apiGroups: [''], resources: ['nodes'] }, { nonResourceURLs: ['/x'], resources: ['pods'], verbs: ['get'] }] });
    assert.equal(cr.status, 422);
    assert.equal(cr.body.message, 'ClusterRole.rbac.authorization.k8s.io "system:x" is invalid: [rules[0].verbs: Required value: verbs must contain at least one value, rules[1].nonResourceURLs: Invalid value: []string{"/x"}: rules cannot apply to both regular resources and non-resource URLs]');
    const rb = await call(server.adminToken, 'PATCH', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kto-agent', { roleRef: { name: 'kto-controller' } });
    assert.equal(rb.status, 422);
    assert.equal(rb.body.message, 'ClusterRoleBinding.rbac.authorization.k8s.io "kto-agent" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"kto-controller"}: cannot change roleRef');
    const sa = await call(server.adminToken, 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', { metadata: { name: 'b' }, roleRef: { kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'ServiceAccount', name: 'x' }] });
    assert.equal(sa.status, 422);
    assert.equal(sa.body.message, 'ClusterRoleBinding.rbac.authorization.k8s.io "b" is invalid: subjects[0].namespace: Required value');
  });

  test('Secrets: data must be base64, stringData lands in data; Deployments bump generation on spec changes only', async () => {
    const bad = await call(server.adminToken, 'POST', '/api/v1/namespaces/default/secrets', { metadata: { name: 's' }, data: { k: 'not base64!' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.message, 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3');
    const ok = await call(server.adminToken, 'POST', '/api/v1/namespaces/default/secrets', { metadata: { name: 's' }, stringData: { k: 'v' } });
    assert.equal(ok.status, 201);
    assert.deepEqual([ok.body['data'], ok.body['type'], ok.body['stringData']], [{ k: Buffer.from('v').toString('base64') }, 'Opaque', undefined]);
    const d = { metadata: { name: 'd' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'x:1' }] } } } };
    const created = await call(server.adminToken, 'POST', '/apis/apps/v1/namespaces/default/deployments', d);
    assert.equal(created.status, 201);
    assert.equal((created.body['spec'] as { replicas: number }).replicas, 1, 'defaulted');
    await call(server.adminToken, 'PATCH', '/apis/apps/v1/namespaces/default/deployments/d', { metadata: { labels: { x: 'y' } } });
    assert.equal(server.store.get(DEPLOYMENTS, 'd', 'default').metadata.generation, 1);
    await call(server.adminToken, 'PATCH', '/apis/apps/v1/namespaces/default/deployments/d', { spec: { replicas: 3 } });
    assert.equal(server.store.get(DEPLOYMENTS, 'd', 'default').metadata.generation, 2);
    const mismatch = await call(server.adminToken, 'POST', '/apis/apps/v1/namespaces/default/deployments', { ...d, metadata: { name: 'e' }, spec: { ...d.spec, selector: { matchLabels: { a: 'c' } } } });
    assert.equal(mismatch.status, 422);
    assert.equal(mismatch.body.message, 'Deployment.apps "e" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"a":"b"}: `selector` does not match template `labels`');
  });

  test('tokens stop working when their ServiceAccount or bound Node is deleted, and survive a restart', async () => {
    server.store.create(SERVICEACCOUNTS, { metadata: { name: 'short-lived', namespace: NS } });
    const t = server.tokenFor(NS, 'short-lived');
    const bound = server.tokenFor(NS, 'kto-agent', { boundNode: 'node-00002' });
    assert.equal((await call(bound, 'GET', '/api/v1/nodes')).status, 200);
    await server.restart();
    assert.equal((await call(t, 'GET', '/apis')).status, 200, 'signed with the key kept in the state dir');
    assert.equal((await call(server.adminToken, 'GET', '/api/v1/nodes')).status, 200);
    server.store.delete(SERVICEACCOUNTS, 'short-lived', NS);
    assert.equal((await call(t, 'GET', '/apis')).status, 401);
    server.store.delete(NODES, 'node-00002');
    assert.equal((await call(bound, 'GET', '/api/v1/nodes')).status, 401);
    assert.equal((await call(agentToken, 'GET', '/api/v1/nodes')).status, 200, 'bound to a node that still exists');
  });
});
