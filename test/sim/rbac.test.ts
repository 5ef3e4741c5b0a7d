// The RBAC authorizer as a pure function: table tests over (user, request attributes, RBAC
// objects), the real RequestInfo of URLs, and the real 403 wording (responsewriters/errors.go).

import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { requestAttributes } from '../../src/sim/apiserver/authz.js';
import { type RequestAttributes, authorize, buildIndex, forbiddenMessage, rulesFor } from '../../src/sim/apiserver/rbac.js';
import type { KubeObject } from '../../src/sim/apiserver/types.js';
import type { UserInfo } from '../../src/sim/apiserver/userinfo.js';

const sa = (ns: string, name: string): UserInfo => ({ username: `system:serviceaccount:${ns}:${name}`, groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'] });
const AGENT = sa('kto-system', 'kto-agent');
const CONTROLLER = sa('kto-system', 'kto-controller');
const ALICE: UserInfo = { username: 'alice', groups: ['devs', 'system:authenticated'] };
const ADMIN: UserInfo = { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] };
const DAVE: UserInfo = { username: 'dave', groups: ['system:authenticated'] };
const ANON: UserInfo = { username: 'system:anonymous', groups: ['system:unauthenticated'] };

const cr = (name: string, rules: object[]): KubeObject => ({ metadata: { name }, rules });
const role = (ns: string, name: string, rules: object[]): KubeObject => ({ metadata: { name, namespace: ns }, rules });
const crb = (name: string, roleName: string, subjects: object[]): KubeObject => ({ metadata: { name }, roleRef: { kind: 'ClusterRole', name: roleName }, subjects });
const rb = (ns: string, name: string, kind: string, roleName: string, subjects: object[]): KubeObject => ({ metadata: { name, namespace: ns }, roleRef: { kind, name: roleName }, subjects });

const index = buildIndex({
  clusterRoles: [
    cr('agent', [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch', 'patch'] }]),
    cr('controller', [
      { apiGroups: ['nodetracing.dev'], resources: ['nodetracingpolicies'], verbs: ['get', 'list', 'watch', 'patch', 'update'] },
      { apiGroups: ['nodetracing.dev'], resources: ['nodetracingpolicies/status'], verbs: ['get', 'patch', 'update'] },
      { apiGroups: ['nodetracing.dev'], resources: ['nodetracingpolicies/finalizers'], verbs: ['update'] },
      { apiGroups: [''], resources: ['nodes/proxy'], verbs: ['get'] },
    ]),
    cr('status-everywhere', [{ apiGroups: ['*'], resources: ['*/status'], verbs: ['get'] }]),
    cr('discovery', [{ nonResourceURLs: ['/api', '/api/*', '/version'], verbs: ['get'] }]),
    cr('secret-reader', [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['only-this'], verbs: ['get', 'list', 'watch'] }]),
    cr('impersonator', [{ apiGroups: [''], resources: ['users'], resourceNames: ['bob'], verbs: ['impersonate'] }]),
    cr('everything', [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]),
  ],
  roles: [role('kto-system', 'leases', [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] }, { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['kto-leader'], verbs: ['get', 'update'] }])],
  clusterRoleBindings: [
    crb('agent', 'agent', [{ kind: 'ServiceAccount', name: 'kto-agent', namespace: 'kto-system' }]),
    crb('controller', 'controller', [{ kind: 'ServiceAccount', name: 'kto-controller', namespace: 'kto-system' }]),
    crb('devs-status', 'status-everywhere', [{ kind: 'Group', name: 'devs', apiGroup: 'rbac.authorization.k8s.io' }]),
    crb('discovery', 'discovery', [{ kind: 'Group', name: 'system:authenticated' }]),
    crb('alice-impersonates', 'impersonator', [{ kind: 'User', name: 'alice' }]),
    crb('dangling', 'does-not-exist', [{ kind: 'User', name: 'alice' }]),
    crb('sa-without-namespace', 'everything', [{ kind: 'ServiceAccount', name: 'kto-agent' }]),
  ],
  roleBindings: [
    rb('kto-system', 'leases', 'Role', 'leases', [{ kind: 'ServiceAccount', name: 'kto-controller' }]),
    rb('apps', 'alice-edits', 'ClusterRole', 'everything', [{ kind: 'User', name: 'alice' }]),
    rb('apps', 'dave-secret', 'ClusterRole', 'secret-reader', [{ kind: 'User', name: 'dave' }]),
  ],
});

function res(user: UserInfo, verb: string, resource: string, o: Partial<RequestAttributes> = {}): RequestAttributes {
  const [r, sub] = resource.split('/');
  return { user, verb, resourceRequest: true, path: '', apiGroup: '', apiVersion: 'v1', resource: r ?? '', subresource: sub ?? '', namespace: '', name: '', ...o };
}
const url = (user: UserInfo, verb: string, path: string): RequestAttributes => ({ user, verb, resourceRequest: false, path, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' });
const NTP = { apiGroup: 'nodetracing.dev', apiVersion: 'v1alpha1' };

const CASES: [string, RequestAttributes, boolean][] = [
  ['agent may patch any node (RBAC cannot say "its own")', res(AGENT, 'patch', 'nodes', { name: 'node-02' }), true],
  ['agent may watch nodes', res(AGENT, 'watch', 'nodes'), true],
  ['agent may not patch nodes/status', res(AGENT, 'patch', 'nodes/status', { name: 'node-02' }), false],
  ['agent may not delete nodes', res(AGENT, 'delete', 'nodes', { name: 'node-02' }), false],
  ['agent may not read policies', res(AGENT, 'list', 'nodetracingpolicies', NTP), false],
  ['agent may not read secrets', res(AGENT, 'get', 'secrets', { namespace: 'kto-system', name: 'x' }), false],
  ['a ClusterRoleBinding ServiceAccount subject without namespace matches nobody', res(sa('default', 'kto-agent'), 'get', 'pods', { namespace: 'default' }), false],
  ['controller may update policy status', res(CONTROLLER, 'update', 'nodetracingpolicies/status', { ...NTP, name: 'p' }), true],
  ['controller may update policy finalizers', res(CONTROLLER, 'update', 'nodetracingpolicies/finalizers', { ...NTP, name: 'p' }), true],
  ['controller may not patch policy finalizers (only update is granted)', res(CONTROLLER, 'patch', 'nodetracingpolicies/finalizers', { ...NTP, name: 'p' }), false],
  ['controller may not create policies', res(CONTROLLER, 'create', 'nodetracingpolicies', NTP), false],
  ['controller may get nodes/proxy', res(CONTROLLER, 'get', 'nodes/proxy', { name: 'n' }), true],
  ['controller may not get nodes (proxy is a separate resource)', res(CONTROLLER, 'get', 'nodes', { name: 'n' }), false],
  ['controller may create leases in its namespace (create has no name)', res(CONTROLLER, 'create', 'leases', { apiGroup: 'coordination.k8s.io', namespace: 'kto-system' }), true],
  ['controller may update its own lease by name', res(CONTROLLER, 'update', 'leases', { apiGroup: 'coordination.k8s.io', namespace: 'kto-system', name: 'kto-leader' }), true],
  ['controller may not update another lease', res(CONTROLLER, 'update', 'leases', { apiGroup: 'coordination.k8s.io', namespace: 'kto-system', name: 'other' }), false],
  ['controller may not create leases in another namespace (RoleBinding is namespaced)', res(CONTROLLER, 'create', 'leases', { apiGroup: 'coordination.k8s.io', namespace: 'default' }), false],
  ['a RoleBinding ServiceAccount subject without namespace means the binding namespace', res(CONTROLLER, 'get', 'leases', { apiGroup: 'coordination.k8s.io', namespace: 'kto-system', name: 'kto-leader' }), true],
  ['group subject: */status grants the status of every resource', res(ALICE, 'get', 'deployments/status', { apiGroup: 'apps', namespace: 'x', name: 'd' }), true],
  ['*/status does not grant the resource itself', res(ALICE, 'get', 'deployments', { apiGroup: 'apps', namespace: 'x', name: 'd' }), false],
  ['RoleBinding to a ClusterRole grants inside that namespace', res(ALICE, 'delete', 'configmaps', { namespace: 'apps', name: 'c' }), true],
  ['RoleBinding to a ClusterRole grants nothing elsewhere', res(ALICE, 'delete', 'configmaps', { namespace: 'default', name: 'c' }), false],
  ['RoleBinding to a ClusterRole grants nothing cluster-wide', res(ALICE, 'list', 'configmaps'), false],
  ['resourceNames: get of the named secret', res(DAVE, 'get', 'secrets', { namespace: 'apps', name: 'only-this' }), true],
  ['resourceNames: get of another secret', res(DAVE, 'get', 'secrets', { namespace: 'apps', name: 'other' }), false],
  ['resourceNames: list with metadata.name pinned carries the name', res(DAVE, 'list', 'secrets', { namespace: 'apps', name: 'only-this' }), true],
  ['resourceNames: a list without the name is not allowed', res(DAVE, 'list', 'secrets', { namespace: 'apps' }), false],
  ['wildcard verbs and resources', res(ALICE, 'deletecollection', 'widgets', { apiGroup: 'example.com', namespace: 'apps' }), true],
  ['nonResourceURLs exact', url(ALICE, 'get', '/version'), true],
  ['nonResourceURLs prefix*', url(ALICE, 'get', '/api/v1'), true],
  ['nonResourceURLs: verb must match', url(ALICE, 'post', '/api'), false],
  ['nonResourceURLs: unlisted path', url(ALICE, 'get', '/metrics'), false],
  ['anonymous gets nothing without a binding', url(ANON, 'get', '/version'), false],
  ['impersonate a named user', res(ALICE, 'impersonate', 'users', { name: 'bob' }), true],
  ['impersonate another user', res(ALICE, 'impersonate', 'users', { name: 'carol' }), false],
  ['system:masters is never denied', res(ADMIN, 'delete', 'nodes', { name: 'n' }), true],
];

describe('RBAC authorizer', () => {
  for (const [name, attrs, allowed] of CASES) {
    test(`${allowed ? 'allows' : 'denies'}: ${name}`, () => assert.equal(authorize(index, attrs).allowed, allowed));
  }

  test('a binding to a missing role is the reason of a denial', () => {
    assert.deepEqual(authorize(index, res(ALICE, 'get', 'pods', { namespace: 'default', name: 'p' })), { allowed: false, reason: 'RBAC: clusterrole.rbac.authorization.k8s.io "does-not-exist" not found' });
  });

  test('an allow names the binding, role and subject', () => {
    assert.equal(authorize(index, res(AGENT, 'get', 'nodes', { name: 'n' })).reason, 'RBAC: allowed by ClusterRoleBinding "agent" of ClusterRole "agent" to ServiceAccount "kto-agent/kto-system"');
  });

  test('rulesFor lists cluster and namespace rules, with lookup errors', () => {
    const r = rulesFor(index, CONTROLLER, 'kto-system');
    // 4 from its ClusterRole, 1 from discovery (system:authenticated), 2 from the namespaced Role.
    assert.equal(r.rules.length, 7);
    assert.deepEqual(rulesFor(index, ALICE, 'apps').errors, ['clusterrole.rbac.authorization.k8s.io "does-not-exist" not found']);
  });
});

describe('RequestInfo of a URL', () => {
  const q = (s = ''): URLSearchParams => new URLSearchParams(s);
  const TABLE: [string, string, string, URLSearchParams, Partial<RequestAttributes>][] = [
    ['patch of a node', 'PATCH', '/api/v1/nodes/node-02', q(), { verb: 'patch', resource: 'nodes', name: 'node-02', namespace: '' }],
    ['status subresource', 'PUT', '/api/v1/nodes/n/status', q(), { verb: 'update', resource: 'nodes', subresource: 'status', name: 'n' }],
    ['proxy subresource keeps the method verb', 'GET', '/api/v1/nodes/n/proxy/configz', q(), { verb: 'get', resource: 'nodes', subresource: 'proxy', name: 'n' }],
    ['create has no name', 'POST', '/apis/coordination.k8s.io/v1/namespaces/kto-system/leases', q(), { verb: 'create', apiGroup: 'coordination.k8s.io', resource: 'leases', namespace: 'kto-system', name: '' }],
    ['list', 'GET', '/apis/nodetracing.dev/v1alpha1/nodetracingpolicies', q(), { verb: 'list', name: '' }],
    ['watch=true', 'GET', '/api/v1/nodes', q('watch=true'), { verb: 'watch' }],
    ['watch=1', 'GET', '/api/v1/nodes', q('watch=1'), { verb: 'watch' }],
    ['list pinned by fieldSelector carries the name', 'GET', '/api/v1/nodes', q('fieldSelector=metadata.name%3Dnode-01'), { verb: 'list', name: 'node-01' }],
    ['watch pinned by fieldSelector carries the name', 'GET', '/api/v1/nodes', q('watch=true&fieldSelector=metadata.name%3D%3Dnode-01,spec.x%3Dy'), { verb: 'watch', name: 'node-01' }],
    ['delete of a collection', 'DELETE', '/api/v1/namespaces/a/configmaps', q(), { verb: 'deletecollection', namespace: 'a' }],
    ['a namespace is its own namespace', 'GET', '/api/v1/namespaces/foo', q(), { verb: 'get', resource: 'namespaces', name: 'foo', namespace: 'foo' }],
    ['namespace status', 'PUT', '/api/v1/namespaces/foo/status', q(), { resource: 'namespaces', name: 'foo', subresource: 'status', namespace: 'foo' }],
    ['token subresource', 'POST', '/api/v1/namespaces/ns/serviceaccounts/sa/token', q(), { verb: 'create', resource: 'serviceaccounts', subresource: 'token', name: 'sa', namespace: 'ns' }],
    ['/api/v1 is not a resource request', 'GET', '/api/v1', q(), { resourceRequest: false, verb: 'get', path: '/api/v1' }],
    ['/apis/group is not a resource request', 'GET', '/apis/apps', q(), { resourceRequest: false }],
    ['/version', 'GET', '/version', q(), { resourceRequest: false, verb: 'get', path: '/version' }],
  ];
  for (const [name, method, path, query, want] of TABLE) {
    test(name, () => {
      const a = requestAttributes(ALICE, method, path, query);
      for (const [k, v] of Object.entries(want)) assert.equal(a[k as keyof RequestAttributes], v, k);
    });
  }
});

describe('the 403 message', () => {
  test('named resource at the cluster scope', () => {
    assert.equal(forbiddenMessage(res(AGENT, 'patch', 'nodes', { name: 'node-02' }), ''), 'nodes "node-02" is forbidden: User "system:serviceaccount:kto-system:kto-agent" cannot patch resource "nodes" in API group "" at the cluster scope');
  });
  test('namespaced, grouped, no name (create, list)', () => {
    assert.equal(forbiddenMessage(res(CONTROLLER, 'create', 'leases', { apiGroup: 'coordination.k8s.io', namespace: 'default' }), ''), 'leases.coordination.k8s.io is forbidden: User "system:serviceaccount:kto-system:kto-controller" cannot create resource "leases" in API group "coordination.k8s.io" in the namespace "default"');
  });
  test('subresource', () => {
    assert.equal(forbiddenMessage(res(AGENT, 'patch', 'nodes/status', { name: 'n' }), ''), 'nodes "n" is forbidden: User "system:serviceaccount:kto-system:kto-agent" cannot patch resource "nodes/status" in API group "" at the cluster scope');
  });
  test('non-resource URL', () => {
    assert.equal(forbiddenMessage(url(ANON, 'get', '/apis'), ''), 'forbidden: User "system:anonymous" cannot get path "/apis"');
  });
  test('with a reason', () => {
    assert.equal(forbiddenMessage(res(ALICE, 'get', 'pods', { namespace: 'x', name: 'p' }), 'RBAC: clusterrole.rbac.authorization.k8s.io "r" not found'), 'pods "p" is forbidden: User "alice" cannot get resource "pods" in API group "" in the namespace "x": RBAC: clusterrole.rbac.authorization.k8s.io "r" not found');
  });
});
