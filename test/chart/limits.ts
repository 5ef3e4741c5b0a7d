// What the installed chart lets each identity do, as a table: every case is one request through
// client-node with a token of that identity, and the answer the API server must give: allowed, or
// the status code and message. Used by install.test.ts.
import * as k8s from '@kubernetes/client-node';
import { mergePatch } from '../../src/kube/client.js';

export type Denied = { code: number; message: string };
export type Expect = 'allowed' | Denied;

export interface Clients {
  core: k8s.CoreV1Api;
  custom: k8s.CustomObjectsApi;
  leases: k8s.CoordinationV1Api;
  rbac: k8s.RbacAuthorizationV1Api;
  admission: k8s.AdmissionregistrationV1Api;
  crds: k8s.ApiextensionsV1Api;
}

export interface LimitCase {
  what: string;
  call: (c: Clients) => Promise<unknown>;
  expect: Expect;
}

export interface Install {
  namespace: string;
  agentServiceAccount: string;
  controllerServiceAccount: string;
  guard: string;
  leaseName: string;
  /** A NodeTracingPolicy that exists, and nodes: [own, other, spare]. */
  policy: string;
  nodes: [string, string, string];
}

export function clients(kc: k8s.KubeConfig): Clients {
  return {
    core: kc.makeApiClient(k8s.CoreV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    leases: kc.makeApiClient(k8s.CoordinationV1Api),
    rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api),
    admission: kc.makeApiClient(k8s.AdmissionregistrationV1Api),
    crds: kc.makeApiClient(k8s.ApiextensionsV1Api),
  };
}

/** allowed, or the code and message of the Status the server answered with. */
export async function outcome(p: Promise<unknown>): Promise<Expect> {
  try {
    await p;
    return 'allowed';
  } catch (e: unknown) {
    if (!(e instanceof k8s.ApiException)) throw e;
    const body = JSON.parse(String(e.body)) as { message?: string };
    return { code: e.code, message: body.message ?? '' };
  }
}

/** The real RBAC denial: `nodes "n" is forbidden: User "u" cannot patch resource "nodes/status" in API group "" at the cluster scope`. */
export function rbacDenied(user: string, verb: string, resource: string, o: { group?: string; name?: string; namespace?: string } = {}): Denied {
  const group = o.group ?? '';
  const main = resource.split('/')[0] ?? resource;
  const what = `${main}${group ? `.${group}` : ''}${o.name !== undefined ? ` "${o.name}"` : ''}`;
  const scope = o.namespace !== undefined ? `in the namespace "${o.namespace}"` : 'at the cluster scope';
  return { code: 403, message: `${what} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${group}" ${scope}` };
}

export function guardDenied(guard: string, node: string, message: string): Denied {
  return { code: 403, message: `nodes "${node}" is forbidden: ValidatingAdmissionPolicy '${guard}' with binding '${guard}' denied request: ${message}` };
}

export const GUARD = {
  annotations: 'the node agent may only change annotations under nodetracing.dev/',
  labels: 'the node agent may not change Node labels',
  spec: 'the node agent may not change the Node spec (taints, podCIDR, unschedulable, ...)',
  finalizers: 'the node agent may not change Node finalizers or owner references',
  node: (bound: string | undefined, node: string): string =>
    `the node agent may only change the Node it runs on; this token is bound to ${bound === undefined ? 'no node' : `node ${bound}`}, not ${node}`,
};

const PROBE = 'nodetracing.dev/probe';
const patchNode = (c: Clients, name: string, body: object): Promise<unknown> => c.core.patchNode({ name, body }, mergePatch);
const POLICIES = { group: 'nodetracing.dev', version: 'v1alpha1', plural: 'nodetracingpolicies' };

/** The agent's token, bound to nodes[0]: its own Node's nodetracing.dev/ annotations, reads of Nodes; nothing else. */
export function agentCases(i: Install): LimitCase[] {
  const user = `system:serviceaccount:${i.namespace}:${i.agentServiceAccount}`;
  const [own, other] = i.nodes;
  const ns = i.namespace;
  return [
    { what: `get its own Node ${own} (readiness)`, call: (c) => c.core.readNode({ name: own }), expect: 'allowed' },
    { what: 'list its own Node by field selector (its watch)', call: (c) => c.core.listNode({ fieldSelector: `metadata.name=${own}` }), expect: 'allowed' },
    { what: 'list all Nodes', call: (c) => c.core.listNode(), expect: 'allowed' },
    { what: `set a nodetracing.dev/ annotation on ${own}`, call: (c) => patchNode(c, own, { metadata: { annotations: { [PROBE]: 'agent' } } }), expect: 'allowed' },
    { what: `delete a nodetracing.dev/ annotation on ${own}`, call: (c) => patchNode(c, own, { metadata: { annotations: { [PROBE]: null } } }), expect: 'allowed' },
    { what: `set a nodetracing.dev/ annotation on another Node (${other})`, call: (c) => patchNode(c, other, { metadata: { annotations: { [PROBE]: 'agent' } } }), expect: guardDenied(i.guard, other, GUARD.node(own, other)) },
    { what: `set an annotation outside nodetracing.dev/ on ${own}`, call: (c) => patchNode(c, own, { metadata: { annotations: { 'example.com/owner': 'agent' } } }), expect: guardDenied(i.guard, own, GUARD.annotations) },
    { what: `remove an annotation outside nodetracing.dev/ on ${own}`, call: (c) => patchNode(c, own, { metadata: { annotations: { 'node.alpha.kubernetes.io/ttl': null } } }), expect: guardDenied(i.guard, own, GUARD.annotations) },
    { what: `set a label on ${own}`, call: (c) => patchNode(c, own, { metadata: { labels: { 'node-role.kubernetes.io/control-plane': 'true', 'example.com/pool': 'stolen' } } }), expect: guardDenied(i.guard, own, GUARD.labels) },
    { what: `cordon ${own} (spec.unschedulable)`, call: (c) => patchNode(c, own, { spec: { unschedulable: true } }), expect: guardDenied(i.guard, own, GUARD.spec) },
    { what: `taint ${own} (spec.taints)`, call: (c) => patchNode(c, own, { spec: { taints: [{ key: 'evil', effect: 'NoExecute' }] } }), expect: guardDenied(i.guard, own, GUARD.spec) },
    { what: `add a finalizer to ${own}`, call: (c) => patchNode(c, own, { metadata: { finalizers: ['example.com/hold'] } }), expect: guardDenied(i.guard, own, GUARD.finalizers) },
    { what: `patch ${own}'s status (nodes/status)`, call: (c) => c.core.patchNodeStatus({ name: own, body: { status: { conditions: [] } } }, mergePatch), expect: rbacDenied(user, 'patch', 'nodes/status', { name: own }) },
    { what: `delete ${own}`, call: (c) => c.core.deleteNode({ name: own }), expect: rbacDenied(user, 'delete', 'nodes', { name: own }) },
    { what: 'create a Node', call: (c) => c.core.createNode({ body: { metadata: { name: 'node-rogue' } } }), expect: rbacDenied(user, 'create', 'nodes') },
    { what: `read the kubelet API of ${own} (nodes/proxy)`, call: (c) => c.core.connectGetNodeProxyWithPath({ name: own, path: 'configz' }), expect: rbacDenied(user, 'get', 'nodes/proxy', { name: own }) },
    { what: 'list NodeTracingPolicies', call: (c) => c.custom.listClusterCustomObject(POLICIES), expect: rbacDenied(user, 'list', 'nodetracingpolicies', { group: 'nodetracing.dev' }) },
    { what: `get NodeTracingPolicy ${i.policy}`, call: (c) => c.custom.getClusterCustomObject({ ...POLICIES, name: i.policy }), expect: rbacDenied(user, 'get', 'nodetracingpolicies', { group: 'nodetracing.dev', name: i.policy }) },
    { what: 'list Secrets in all namespaces', call: (c) => c.core.listSecretForAllNamespaces(), expect: rbacDenied(user, 'list', 'secrets') },
    { what: `get a Secret in ${ns}`, call: (c) => c.core.readNamespacedSecret({ name: 'kto-creds', namespace: ns }), expect: rbacDenied(user, 'get', 'secrets', { name: 'kto-creds', namespace: ns }) },
    { what: `list ConfigMaps in ${ns}`, call: (c) => c.core.listNamespacedConfigMap({ namespace: ns }), expect: rbacDenied(user, 'list', 'configmaps', { namespace: ns }) },
    { what: "mint a token of the controller's ServiceAccount", call: (c) => c.core.createNamespacedServiceAccountToken({ name: i.controllerServiceAccount, namespace: ns, body: { spec: { audiences: [] } } }), expect: rbacDenied(user, 'create', 'serviceaccounts/token', { name: i.controllerServiceAccount, namespace: ns }) },
    { what: "take the controller's Lease", call: (c) => c.leases.readNamespacedLease({ name: i.leaseName, namespace: ns }), expect: rbacDenied(user, 'get', 'leases', { group: 'coordination.k8s.io', name: i.leaseName, namespace: ns }) },
    { what: 'delete the agent guard', call: (c) => c.admission.deleteValidatingAdmissionPolicy({ name: i.guard }), expect: rbacDenied(user, 'delete', 'validatingadmissionpolicies', { group: 'admissionregistration.k8s.io', name: i.guard }) },
  ];
}

/** The agent's ServiceAccount with a token bound to no node: RBAC lets it patch, the guard does not. */
export function unboundAgentCases(i: Install): LimitCase[] {
  const [own, other] = i.nodes;
  return [
    { what: `get Node ${own}`, call: (c) => c.core.readNode({ name: own }), expect: 'allowed' },
    { what: `set a nodetracing.dev/ annotation on ${own}`, call: (c) => patchNode(c, own, { metadata: { annotations: { [PROBE]: 'unbound' } } }), expect: guardDenied(i.guard, own, GUARD.node(undefined, own)) },
    { what: `set a nodetracing.dev/ annotation on ${other}`, call: (c) => patchNode(c, other, { metadata: { annotations: { [PROBE]: 'unbound' } } }), expect: guardDenied(i.guard, other, GUARD.node(undefined, other)) },
  ];
}

/** The controller's token: policies, Nodes' annotations, /configz, its Lease and Events in default; nothing else. */
export function controllerCases(i: Install): LimitCase[] {
  const user = `system:serviceaccount:${i.namespace}:${i.controllerServiceAccount}`;
  const [own, other, spare] = i.nodes;
  const ns = i.namespace;
  const event = (namespace: string): k8s.CoreV1Event => ({
    metadata: { generateName: `${i.policy}.`, namespace },
    involvedObject: { apiVersion: 'nodetracing.dev/v1alpha1', kind: 'NodeTracingPolicy', name: i.policy },
    reason: 'Probe',
    message: 'limits test',
    type: 'Normal',
    firstTimestamp: new Date(),
    lastTimestamp: new Date(),
    count: 1,
  });
  const policy = { apiVersion: 'nodetracing.dev/v1alpha1', kind: 'NodeTracingPolicy', metadata: { name: 'rogue' }, spec: { tracing: { endpoint: 'otel:4317' } } };
  return [
    { what: 'list NodeTracingPolicies', call: (c) => c.custom.listClusterCustomObject(POLICIES), expect: 'allowed' },
    { what: 'list Nodes', call: (c) => c.core.listNode(), expect: 'allowed' },
    { what: `hand ${other} a nodetracing.dev/ annotation (the guard is for the agent only)`, call: (c) => patchNode(c, other, { metadata: { annotations: { [PROBE]: 'controller' } } }), expect: 'allowed' },
    { what: `read ${own}'s /configz (nodes/proxy, controller.verifyConfigz)`, call: (c) => c.core.connectGetNodeProxyWithPath({ name: own, path: 'configz' }), expect: 'allowed' },
    { what: 'record an Event about a policy in default', call: (c) => c.core.createNamespacedEvent({ namespace: 'default', body: event('default') }), expect: 'allowed' },
    { what: `read its Lease ${ns}/${i.leaseName}`, call: (c) => c.leases.readNamespacedLease({ name: i.leaseName, namespace: ns }), expect: 'allowed' },
    { what: `get Node ${own} (it only lists and watches)`, call: (c) => c.core.readNode({ name: own }), expect: rbacDenied(user, 'get', 'nodes', { name: own }) },
    { what: `get NodeTracingPolicy ${i.policy} (it only lists and watches)`, call: (c) => c.custom.getClusterCustomObject({ ...POLICIES, name: i.policy }), expect: rbacDenied(user, 'get', 'nodetracingpolicies', { group: 'nodetracing.dev', name: i.policy }) },
    { what: `delete Node ${spare}`, call: (c) => c.core.deleteNode({ name: spare }), expect: rbacDenied(user, 'delete', 'nodes', { name: spare }) },
    { what: 'create a Node', call: (c) => c.core.createNode({ body: { metadata: { name: 'node-rogue' } } }), expect: rbacDenied(user, 'create', 'nodes') },
    { what: `patch ${own}'s status (nodes/status)`, call: (c) => c.core.patchNodeStatus({ name: own, body: { status: { conditions: [] } } }, mergePatch), expect: rbacDenied(user, 'patch', 'nodes/status', { name: own }) },
    { what: 'list Secrets in all namespaces', call: (c) => c.core.listSecretForAllNamespaces(), expect: rbacDenied(user, 'list', 'secrets') },
    { what: `get a Secret in ${ns}`, call: (c) => c.core.readNamespacedSecret({ name: 'kto-creds', namespace: ns }), expect: rbacDenied(user, 'get', 'secrets', { name: 'kto-creds', namespace: ns }) },
    { what: 'list ConfigMaps in all namespaces', call: (c) => c.core.listConfigMapForAllNamespaces(), expect: rbacDenied(user, 'list', 'configmaps') },
    { what: `list ConfigMaps in ${ns}`, call: (c) => c.core.listNamespacedConfigMap({ namespace: ns }), expect: rbacDenied(user, 'list', 'configmaps', { namespace: ns }) },
    { what: 'list Pods in all namespaces', call: (c) => c.core.listPodForAllNamespaces(), expect: rbacDenied(user, 'list', 'pods') },
    { what: `record an Event in ${ns} (Events go to default only)`, call: (c) => c.core.createNamespacedEvent({ namespace: ns, body: event(ns) }), expect: rbacDenied(user, 'create', 'events', { namespace: ns }) },
    { what: `read another Lease in ${ns}`, call: (c) => c.leases.readNamespacedLease({ name: 'someone-else', namespace: ns }), expect: rbacDenied(user, 'get', 'leases', { group: 'coordination.k8s.io', name: 'someone-else', namespace: ns }) },
    { what: 'create a Lease in kube-system', call: (c) => c.leases.createNamespacedLease({ namespace: 'kube-system', body: { metadata: { name: i.leaseName } } }), expect: rbacDenied(user, 'create', 'leases', { group: 'coordination.k8s.io', namespace: 'kube-system' }) },
    { what: 'create a NodeTracingPolicy', call: (c) => c.custom.createClusterCustomObject({ ...POLICIES, body: policy }), expect: rbacDenied(user, 'create', 'nodetracingpolicies', { group: 'nodetracing.dev' }) },
    { what: `replace NodeTracingPolicy ${i.policy} (update)`, call: (c) => c.custom.replaceClusterCustomObject({ ...POLICIES, name: i.policy, body: { ...policy, metadata: { name: i.policy } } }), expect: rbacDenied(user, 'update', 'nodetracingpolicies', { group: 'nodetracing.dev', name: i.policy }) },
    { what: `delete NodeTracingPolicy ${i.policy}`, call: (c) => c.custom.deleteClusterCustomObject({ ...POLICIES, name: i.policy }), expect: rbacDenied(user, 'delete', 'nodetracingpolicies', { group: 'nodetracing.dev', name: i.policy }) },
    { what: 'bind itself to cluster-admin', call: (c) => c.rbac.createClusterRoleBinding({ body: { metadata: { name: 'rogue' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'ServiceAccount', name: i.controllerServiceAccount, namespace: ns }] } }), expect: rbacDenied(user, 'create', 'clusterrolebindings', { group: 'rbac.authorization.k8s.io' }) },
    { what: "mint a token of the agent's ServiceAccount", call: (c) => c.core.createNamespacedServiceAccountToken({ name: i.agentServiceAccount, namespace: ns, body: { spec: { audiences: [] } } }), expect: rbacDenied(user, 'create', 'serviceaccounts/token', { name: i.agentServiceAccount, namespace: ns }) },
    { what: 'delete the agent guard', call: (c) => c.admission.deleteValidatingAdmissionPolicy({ name: i.guard }), expect: rbacDenied(user, 'delete', 'validatingadmissionpolicies', { group: 'admissionregistration.k8s.io', name: i.guard }) },
    { what: 'delete the NodeTracingPolicy CRD', call: (c) => c.crds.deleteCustomResourceDefinition({ name: 'nodetracingpolicies.nodetracing.dev' }), expect: rbacDenied(user, 'delete', 'customresourcedefinitions', { group: 'apiextensions.k8s.io', name: 'nodetracingpolicies.nodetracing.dev' }) },
  ];
}
