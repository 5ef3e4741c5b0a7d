// ValidatingAdmissionPolicy in the embedded API server.
//  - Writing policies and bindings goes through client-node over HTTP: a policy whose expressions
//    do not compile is refused with 422 naming the field, as the real type check does.
//  - Evaluation needs the requester: until authentication fills WriteOptions.user for HTTP
//    requests, these tests write in-process through the store with `user` set (the same code
//    path HTTP writes take once they carry a user).
//  - The chart's own agent guard, rendered from the chart, allows an agent to patch only its own
//    Node's nodetracing.dev/ annotations.

import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { ApiError, ApiServer, CONFIGMAPS, NAMESPACES, NODES, type KubeObject, Store } from '../../src/sim/apiserver/index.js';
import { VAP, VAPB } from '../../src/sim/apiserver/admission/index.js';
import type { UserInfo } from '../../src/sim/apiserver/userinfo.js';
import { simNodeObject } from '../../src/sim/nodes.js';
import { missingToolchain, one, render } from '../chart/render.js';

type Obj = Record<string, unknown>;

const alice: UserInfo = { username: 'alice', uid: 'u-1', groups: ['dev', 'system:authenticated'], extra: { team: ['obs'] } };

function policy(name: string, spec: Obj): Obj {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name },
    spec: { matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['configmaps'] }] }, ...spec },
  };
}

function binding(name: string, policyName: string, actions: string[] = ['Deny'], extra: Obj = {}): Obj {
  return { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name }, spec: { policyName, validationActions: actions, ...extra } };
}

function cm(name: string, data: Record<string, string> = {}, labels?: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...(labels ? { labels } : {}) }, data };
}

/** The Status a write is refused with, or undefined when it succeeds. */
function refusal(f: () => unknown): ApiError['status'] | undefined {
  try {
    f();
    return undefined;
  } catch (e: unknown) {
    if (e instanceof ApiError) return e.status;
    throw e;
  }
}

describe('ValidatingAdmissionPolicy objects are checked when written (client-node over HTTP)', () => {
  const server = new ApiServer();
  let api: k8s.AdmissionregistrationV1Api;

  async function status(p: Promise<unknown>): Promise<{ code: number; message: string; causes: Array<{ field?: string; message: string; reason?: string }> }> {
    try {
      await p;
    } catch (e: unknown) {
      if (e instanceof k8s.ApiException) {
        const body = JSON.parse(String(e.body)) as { code: number; message: string; details?: { causes?: Array<{ field?: string; message: string }> } };
        return { code: body.code, message: body.message, causes: body.details?.causes ?? [] };
      }
      throw e;
    }
    throw new Error('expected the write to be refused');
  }

  before(async () => {
    await server.start();
    const kc = new k8s.KubeConfig();
    kc.loadFromString(server.kubeconfigYaml());
    api = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  });
  after(async () => {
    await server.stop();
  });

  test('a good policy and binding are stored with the defaults the real server fills in', async () => {
    const created = await api.createValidatingAdmissionPolicy({ body: policy('good', { validations: [{ expression: "object.data.all(k, k.startsWith('x'))" }] }) });
    assert.equal(created.spec?.failurePolicy, 'Fail');
    assert.equal(created.spec?.matchConstraints?.matchPolicy, 'Equivalent');
    assert.equal(created.spec?.matchConstraints?.resourceRules?.[0]?.scope, '*');
    const b = await api.createValidatingAdmissionPolicyBinding({ body: binding('good', 'good') });
    assert.deepEqual(b.spec?.validationActions, ['Deny']);
  });

  test('an expression that does not parse: 422 naming spec.validations[0].expression', async () => {
    const r = await status(api.createValidatingAdmissionPolicy({ body: policy('p1', { validations: [{ expression: 'object.metadata.name ==' }] }) }));
    assert.equal(r.code, 422);
    assert.match(r.message, /^ValidatingAdmissionPolicy\.admissionregistration\.k8s\.io "p1" is invalid: spec\.validations\[0\]\.expression: Invalid value: "object\.metadata\.name ==": compilation failed: ERROR: <input>:1:24: Syntax error: /);
    assert.deepEqual(r.causes.map((c) => [c.field, c.reason]), [['spec.validations[0].expression', 'FieldValueInvalid']]);
  });

  test('type errors in every kind of expression, each named by its field', async () => {
    const r = await status(
      api.createValidatingAdmissionPolicy({
        body: policy('p2', {
          matchConditions: [{ name: 'c', expression: 'requst.operation == "UPDATE"' }],
          variables: [{ name: 'a', expression: 'variables.b' }, { name: 'b', expression: '1' }],
          validations: [{ expression: 'request.userInfo.usrname == "x"' }, { expression: 'true', messageExpression: '42' }, { expression: "'x'" }],
        }),
      }),
    );
    assert.equal(r.code, 422);
    assert.deepEqual(
      r.causes.map((c) => `${c.field ?? ''}: ${c.message.split('\n')[0] ?? ''}`),
      [
        `spec.matchConditions[0].expression: Invalid value: "requst.operation == \\"UPDATE\\"": compilation failed: ERROR: <input>:1:1: undeclared reference to 'requst' (in container '')`,
        `spec.variables[0].expression: Invalid value: "variables.b": compilation failed: ERROR: <input>:1:10: undefined field 'b'`,
        `spec.validations[0].expression: Invalid value: "request.userInfo.usrname == \\"x\\"": compilation failed: ERROR: <input>:1:17: undefined field 'usrname'`,
        'spec.validations[1].messageExpression: Invalid value: "42": must evaluate to string',
        `spec.validations[2].expression: Invalid value: "'x'": must evaluate to bool`,
      ],
    );
  });

  test('structure: no validations, unknown reason and failurePolicy, bad names; bindings without actions or with Deny and Warn', async () => {
    const r = await status(
      api.createValidatingAdmissionPolicy({
        body: {
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'ValidatingAdmissionPolicy',
          metadata: { name: 'p3' },
          spec: { failurePolicy: 'Sometimes', matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['PATCH'], resources: ['nodes'] }] }, variables: [{ name: 'not-ident', expression: '1' }] },
        },
      }),
    );
    assert.deepEqual(r.causes.map((c) => c.field), ['spec.failurePolicy', 'spec.matchConstraints.resourceRules[0].operations[0]', 'spec.validations', 'spec.variables[0].name']);
    assert.match(r.message, /spec\.validations: Required value: validations or auditAnnotations must contain at least one item/);
    const bad = await status(api.createValidatingAdmissionPolicy({ body: policy('p4', { validations: [{ expression: 'true', reason: 'Teapot' }] }) }));
    assert.match(bad.message, /spec\.validations\[0\]\.reason: Unsupported value: "Teapot": supported values: "Forbidden", "Invalid", "RequestEntityTooLarge", "Unauthorized"/);
    const noActions = await status(api.createValidatingAdmissionPolicyBinding({ body: binding('b1', 'good', []) }));
    assert.match(noActions.message, /spec\.validationActions: Required value: at least one validation action is required/);
    const both = await status(api.createValidatingAdmissionPolicyBinding({ body: binding('b2', 'good', ['Deny', 'Warn']) }));
    assert.match(both.message, /spec\.validationActions: Invalid value: .*must not contain both Deny and Warn/);
  });
});

describe('ValidatingAdmissionPolicy evaluation (in-process writes with a requester)', () => {
  let store: Store;
  const put = (p: Obj, b?: Obj): void => {
    store.create(VAP, p);
    if (b) store.create(VAPB, b);
  };
  const create = (o: KubeObject, user: UserInfo | null = alice, ns = 'default', extra: Obj = {}): ApiError['status'] | undefined =>
    refusal(() => store.createEntry(CONFIGMAPS, o, { namespace: ns, ...(user ? { user } : {}), ...extra }));

  before(() => {
    store = new Store();
    store.create(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod', labels: { env: 'prod' } } });
  });

  test('a denial is the real Status: code from the reason, message naming policy and binding', () => {
    put(policy('deny-all', { validations: [{ expression: 'false', message: 'no config maps here', reason: 'Forbidden' }] }), binding('deny-all-b', 'deny-all'));
    const s = JSON.parse(JSON.stringify(create(cm('a')))) as unknown;
    assert.deepEqual(s, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `configmaps "a" is forbidden: ValidatingAdmissionPolicy 'deny-all' with binding 'deny-all-b' denied request: no config maps here`,
      reason: 'Forbidden',
      code: 403,
      details: { name: 'a', kind: 'configmaps', causes: [{ message: `ValidatingAdmissionPolicy 'deny-all' with binding 'deny-all-b' denied request: no config maps here` }] },
    });
    assert.equal(create(cm('a'), null), undefined, 'writes without a requester (in-process components) are not admitted');
    store.delete(VAPB, 'deny-all-b');
    assert.equal(create(cm('b')), undefined, 'a policy without a binding does nothing');
    store.delete(VAP, 'deny-all');
  });

  test('reason -> code: Invalid (the default) 422, RequestEntityTooLarge 413, Unauthorized 401', () => {
    for (const [reason, code] of [[undefined, 422], ['Invalid', 422], ['RequestEntityTooLarge', 413], ['Unauthorized', 401]] as const) {
      put(policy('r', { validations: [{ expression: 'false', ...(reason ? { reason } : {}) }] }), binding('r', 'r'));
      const s = create(cm(`r-${code}`));
      assert.equal(s?.code, code, String(reason));
      assert.equal(s?.reason, reason ?? 'Invalid');
      assert.match(s?.message ?? '', /denied request: failed expression: false$/);
      store.delete(VAPB, 'r');
      store.delete(VAP, 'r');
    }
  });

  test('matchConstraints: operations, resources and subresources, resourceNames, exclusions, scope, matchPolicy', () => {
    const deny = (name: string, mc: Obj): void => put(policy(name, { matchConstraints: mc, validations: [{ expression: 'false', message: name }] }), binding(name, name));
    const rule = (r: Obj): Obj => ({ apiGroups: [''], apiVersions: ['v1'], operations: ['*'], ...r });
    store.create(NODES, simNodeObject('n1', 1, 'v1.32.0'));
    store.create(NODES, simNodeObject('n2', 2, 'v1.32.0'));
    const patchNode = (name: string, sub?: 'status'): string | undefined =>
      refusal(() => store.patchEntry(NODES, name, 'merge', sub ? { status: { phase: 'x' } } : { metadata: { annotations: { a: String(Math.random()) } } }, { user: alice, ...(sub ? { subresource: sub } : {}) }))?.message;

    deny('only-create', { resourceRules: [rule({ operations: ['CREATE'], resources: ['nodes'] })] });
    assert.equal(patchNode('n1'), undefined, 'a PATCH is an UPDATE, not a CREATE');
    store.delete(VAPB, 'only-create');

    deny('main-only', { resourceRules: [rule({ resources: ['nodes'] })] });
    assert.match(patchNode('n1') ?? '', /main-only/);
    assert.equal(patchNode('n1', 'status'), undefined, '"nodes" does not select nodes/status');
    store.delete(VAPB, 'main-only');

    deny('status-only', { resourceRules: [rule({ resources: ['nodes/status'] })] });
    assert.equal(patchNode('n1'), undefined);
    assert.match(patchNode('n1', 'status') ?? '', /status-only/);
    store.delete(VAPB, 'status-only');

    deny('all-subs', { resourceRules: [rule({ apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'] })] });
    assert.match(patchNode('n1', 'status') ?? '', /all-subs/);
    assert.match(create(cm('x')) ?.message ?? '', /all-subs/);
    store.delete(VAPB, 'all-subs');

    deny('named', { resourceRules: [rule({ resources: ['nodes'], resourceNames: ['n2'] })] });
    assert.equal(patchNode('n1'), undefined);
    assert.match(patchNode('n2') ?? '', /named/);
    store.delete(VAPB, 'named');

    deny('excluded', { resourceRules: [rule({ resources: ['*'] })], excludeResourceRules: [rule({ resources: ['nodes'], resourceNames: ['n1'] })] });
    assert.equal(patchNode('n1'), undefined);
    assert.match(patchNode('n2') ?? '', /excluded/);
    store.delete(VAPB, 'excluded');

    deny('namespaced-only', { resourceRules: [rule({ resources: ['*'], scope: 'Namespaced' })] });
    assert.equal(patchNode('n1'), undefined);
    assert.match(create(cm('y'))?.message ?? '', /namespaced-only/);
    store.delete(VAPB, 'namespaced-only');

    deny('exact-v2', { matchPolicy: 'Exact', resourceRules: [rule({ apiVersions: ['v2'], resources: ['nodes'] })] });
    assert.equal(patchNode('n1'), undefined, 'Exact: v2 does not select v1 requests');
    store.delete(VAPB, 'exact-v2');
    deny('equivalent-v2', { matchPolicy: 'Equivalent', resourceRules: [rule({ apiVersions: ['v2'], resources: ['nodes'] })] });
    assert.match(patchNode('n1') ?? '', /equivalent-v2/, 'Equivalent: the same resource in another version');
    store.delete(VAPB, 'equivalent-v2');
  });

  test('namespaceSelector, objectSelector, and a binding that narrows with matchResources', () => {
    put(
      policy('sel', { matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }], namespaceSelector: { matchLabels: { env: 'prod' } }, objectSelector: { matchExpressions: [{ key: 'guarded', operator: 'Exists' }] } }, validations: [{ expression: 'false', message: 'sel' }] }),
      binding('sel', 'sel'),
    );
    assert.equal(create(cm('s1', {}, { guarded: 'y' })), undefined, 'namespace default has no env=prod');
    assert.equal(create(cm('s2'), alice, 'prod'), undefined, 'the object has no guarded label');
    assert.match(create(cm('s3', {}, { guarded: 'y' }), alice, 'prod')?.message ?? '', /sel/);
    store.delete(VAPB, 'sel');
    put(policy('wide', { validations: [{ expression: 'false', message: 'wide' }] }), binding('narrow', 'wide', ['Deny'], { matchResources: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'], resourceNames: ['only-this'] }] } }));
    assert.equal(create(cm('other')), undefined);
    assert.match(create(cm('only-this'))?.message ?? '', /binding 'narrow'/);
    store.delete(VAPB, 'narrow');
    store.delete(VAP, 'wide');
    store.delete(VAP, 'sel');
  });

  test('the request, object, oldObject and namespaceObject variables', () => {
    put(
      policy('vars', {
        matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['*'], resources: ['configmaps'] }] },
        validations: [
          {
            expression:
              "request.userInfo.username == 'alice' && request.userInfo.uid == 'u-1' && 'dev' in request.userInfo.groups && request.userInfo.extra['team'] == ['obs']" +
              " && request.kind.kind == 'ConfigMap' && request.resource.resource == 'configmaps' && request.namespace == 'prod' && request.name == object.metadata.name" +
              " && namespaceObject.metadata.labels.env == 'prod' && (request.operation == 'CREATE' ? oldObject == null : oldObject.data.v != object.data.v) && !request.dryRun",
            messageExpression: "'bad request ' + request.operation",
          },
        ],
      }),
      binding('vars', 'vars'),
    );
    assert.equal(create(cm('v', { v: '1' }), alice, 'prod'), undefined);
    assert.equal(refusal(() => store.patchEntry(CONFIGMAPS, 'v', 'merge', { data: { v: '2' } }, { namespace: 'prod', user: alice })), undefined);
    assert.match(refusal(() => store.patchEntry(CONFIGMAPS, 'v', 'merge', { data: { v: '2' } }, { namespace: 'prod', user: alice }))?.message ?? '', /denied request: bad request UPDATE$/);
    assert.match(refusal(() => store.patchEntry(CONFIGMAPS, 'v', 'merge', { data: { v: '3' } }, { namespace: 'prod', user: alice, dryRun: true }))?.message ?? '', /bad request UPDATE/, 'dryRun is visible');
    store.delete(VAPB, 'vars');
    store.delete(VAP, 'vars');
  });

  test('DELETE: object is null, oldObject the stored one', () => {
    store.createEntry(CONFIGMAPS, cm('keep', {}, { protected: 'yes' }), { namespace: 'prod' });
    put(policy('no-delete', { matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['DELETE'], resources: ['configmaps'] }] }, validations: [{ expression: "object == null && !('protected' in oldObject.metadata.labels)", message: 'protected' }] }), binding('no-delete', 'no-delete'));
    assert.equal(refusal(() => store.deleteEntry(CONFIGMAPS, 'keep', 'prod', { user: alice }))?.message, `configmaps "keep" is forbidden: ValidatingAdmissionPolicy 'no-delete' with binding 'no-delete' denied request: protected`);
    assert.ok(store.tryGet(CONFIGMAPS, 'keep', 'prod'));
    store.delete(VAPB, 'no-delete');
    store.delete(VAP, 'no-delete');
  });

  test('matchConditions: false skips the policy; an error is decided by failurePolicy', () => {
    for (const [failurePolicy, expect] of [['Fail', 422], ['Ignore', undefined]] as const) {
      put(
        policy('mc', {
          failurePolicy,
          matchConditions: [{ name: 'has-flag', expression: "object.data.flag == 'on'" }],
          validations: [{ expression: 'false', message: 'flag on' }],
        }),
        binding('mc', 'mc'),
      );
      const fp = failurePolicy.toLowerCase();
      assert.equal(create(cm(`mc-off-${fp}`, { flag: 'off' })), undefined, 'condition false: not evaluated');
      assert.match(create(cm(`mc-on-${fp}`, { flag: 'on' }))?.message ?? '', /flag on/);
      const err = create(cm(`mc-none-${fp}`));
      assert.equal(err?.code, expect, `no data.flag with failurePolicy ${failurePolicy}`);
      if (err) assert.match(err.message ?? '', /denied request: expression 'object\.data\.flag == 'on'' resulted in error: no such key: flag$/);
      store.delete(VAPB, 'mc');
      store.delete(VAP, 'mc');
    }
  });

  test('variables are evaluated lazily, once, and can use earlier ones; an erroring one fails only where used', () => {
    put(
      policy('lazy', {
        failurePolicy: 'Fail',
        variables: [
          { name: 'broken', expression: 'object.data.missing' },
          { name: 'keys', expression: 'object.data.map(k, k)' },
          { name: 'count', expression: 'size(variables.keys)' },
        ],
        validations: [
          { expression: 'variables.count <= 2', messageExpression: "'too many keys: ' + string(variables.count)" },
          { expression: "!('use-broken' in object.data) || variables.broken == 'x'" },
        ],
      }),
      binding('lazy', 'lazy'),
    );
    assert.equal(create(cm('l1', { a: '1' })), undefined, 'broken is never read');
    assert.match(create(cm('l2', { a: '1', b: '2', c: '3' }))?.message ?? '', /denied request: too many keys: 3$/);
    assert.match(create(cm('l3', { 'use-broken': 'y' }))?.message ?? '', /resulted in error: composited variable "broken" fails to evaluate: no such key: missing/);
    store.delete(VAPB, 'lazy');
    store.delete(VAP, 'lazy');
  });

  test('messageExpression falls back to message, then to the expression', () => {
    put(policy('msg', { validations: [{ expression: "object.data.a == 'ok'", message: 'static message', messageExpression: 'object.data.nope' }] }), binding('msg', 'msg'));
    assert.match(create(cm('m1', { a: 'no' }))?.message ?? '', /denied request: static message$/);
    store.delete(VAPB, 'msg');
    store.delete(VAP, 'msg');
  });

  test('failurePolicy on a validation that errors: Fail denies, Ignore admits', () => {
    for (const [failurePolicy, expect] of [['Fail', 422], ['Ignore', undefined]] as const) {
      put(policy('fp', { failurePolicy, validations: [{ expression: "object.data.n == 'x'" }] }), binding('fp', 'fp'));
      assert.equal(create(cm(`fp-${failurePolicy.toLowerCase()}`))?.code, expect);
      store.delete(VAPB, 'fp');
      store.delete(VAP, 'fp');
    }
  });

  test('Warn: admitted with a warning; Audit: admitted silently', () => {
    put(policy('warn', { validations: [{ expression: 'false', message: 'just so you know' }] }), binding('warn', 'warn', ['Warn', 'Audit']));
    const warnings: string[] = [];
    assert.equal(create(cm('w1'), alice, 'default', { warnings }), undefined);
    assert.deepEqual(warnings, [`Validation failed for ValidatingAdmissionPolicy 'warn' with binding 'warn': just so you know`]);
    store.delete(VAPB, 'warn');
    store.create(VAPB, binding('audit', 'warn', ['Audit']));
    const none: string[] = [];
    assert.equal(create(cm('w2'), alice, 'default', { warnings: none }), undefined);
    assert.deepEqual(none, []);
    store.delete(VAPB, 'audit');
    store.delete(VAP, 'warn');
  });

  test('a policy change applies to the next request', () => {
    put(policy('live', { validations: [{ expression: "object.data.v == '1'" }] }), binding('live', 'live'));
    assert.equal(create(cm('live1', { v: '1' })), undefined);
    store.patch(VAP, 'live', 'merge', { spec: { validations: [{ expression: "object.data.v == '2'" }] } });
    assert.equal(create(cm('live2', { v: '1' }))?.code, 422);
    store.delete(VAPB, 'live');
    assert.equal(create(cm('live3', { v: '1' })), undefined);
    store.delete(VAP, 'live');
  });
});

describe("the chart's agent guard", { skip: missingToolchain() }, () => {
  let store: Store;
  let agentName = '';
  const agent = (node?: string): UserInfo => ({
    username: agentName,
    groups: ['system:serviceaccounts', 'system:serviceaccounts:kto-system', 'system:authenticated'],
    ...(node ? { extra: { 'authentication.kubernetes.io/node-name': [node] } } : {}),
  });
  const patch = (user: UserInfo, node: string, body: Obj): ApiError['status'] | undefined => refusal(() => store.patchEntry(NODES, node, 'merge', body, { user }));

  before(() => {
    const { objects } = render({}, { kubeVersion: 'v1.32.0' });
    const vap = one(objects, 'ValidatingAdmissionPolicy');
    store = new Store();
    store.create(VAP, vap);
    store.create(VAPB, one(objects, 'ValidatingAdmissionPolicyBinding'));
    const sa = one(objects, 'ServiceAccount', '-agent');
    agentName = `system:serviceaccount:${sa.metadata.namespace ?? ''}:${sa.metadata.name}`;
    store.create(NODES, simNodeObject('node-01', 1, 'v1.32.0'));
    store.create(NODES, simNodeObject('node-02', 2, 'v1.32.0'));
  });

  test('compiles (the store refuses a policy that does not)', () => {
    assert.ok(store.tryGet(VAP, 'kto-kubelet-tracing-operator-agent-guard'));
  });

  test("an agent bound to node-01 may patch node-01's nodetracing.dev/ annotations", () => {
    assert.equal(patch(agent('node-01'), 'node-01', { metadata: { annotations: { 'nodetracing.dev/applied-config': 'abc' } } }), undefined);
    assert.equal(patch(agent('node-01'), 'node-01', { metadata: { annotations: { 'nodetracing.dev/applied-config': null } } }), undefined, 'and remove them');
  });

  const denied: Array<[string, () => UserInfo, string, Obj, RegExp]> = [
    ['another Node', () => agent('node-01'), 'node-02', { metadata: { annotations: { 'nodetracing.dev/x': 'y' } } }, /this token is bound to node node-01, not node-02$/],
    ['no node claim', () => agent(), 'node-01', { metadata: { annotations: { 'nodetracing.dev/x': 'y' } } }, /this token is bound to no node, not node-01$/],
    ['a label', () => agent('node-01'), 'node-01', { metadata: { labels: { 'node-role.kubernetes.io/worker': 'evil' } } }, /may not change Node labels$/],
    ['an annotation outside nodetracing.dev/', () => agent('node-01'), 'node-01', { metadata: { annotations: { 'example.com/x': 'y' } } }, /may only change annotations under nodetracing\.dev\/$/],
    ['the spec', () => agent('node-01'), 'node-01', { spec: { unschedulable: true } }, /may not change the Node spec/],
    ['finalizers', () => agent('node-01'), 'node-01', { metadata: { finalizers: ['x/y'] } }, /finalizers or owner references$/],
  ];
  for (const [what, user, node, body, message] of denied) {
    test(`denied: ${what}`, () => {
      const s = patch(user(), node, body);
      assert.equal(s?.code, 403);
      assert.equal(s?.reason, 'Forbidden');
      assert.match(s?.message ?? '', new RegExp(`^nodes "${node}" is forbidden: ValidatingAdmissionPolicy 'kto-kubelet-tracing-operator-agent-guard' with binding 'kto-kubelet-tracing-operator-agent-guard' denied request: `));
      assert.match(s?.message ?? '', message);
    });
  }

  test('other users are not guarded (the matchCondition names the agent)', () => {
    assert.equal(patch(alice, 'node-02', { metadata: { labels: { x: 'y' } } }), undefined);
  });
});
