// What ValidatingAdmissionPolicy costs the node agents' hot path: N in-process annotation
// patches of N realistic nodes by a requester (WriteOptions.user), with no policy, with a
// policy bound to another resource (configmaps), and with the chart's agent guard (which
// selects every node patch and evaluates its CEL). Prints figures; not a test.
// Run: node --import tsx bench/admission.ts [nodes]

import { ApiServer, CONFIGMAPS, NODES } from '../src/sim/apiserver/index.js';
import { VAP, VAPB } from '../src/sim/apiserver/admission/index.js';
import { realisticNode } from '../src/sim/apiserver/fixtures.js';
import type { UserInfo } from '../src/sim/apiserver/userinfo.js';
import { one, render } from '../test/chart/render.js';

const N = Number(process.argv[2] ?? 5000);
const server = new ApiServer();
const store = server.store;
for (let i = 0; i < N; i++) store.create(NODES, realisticNode(i));
const names = store.list(NODES).items.map((n) => n.metadata.name ?? '');

const { objects } = render({}, { kubeVersion: 'v1.32.0' });
const sa = one(objects, 'ServiceAccount', '-agent');
const agentName = `system:serviceaccount:${sa.metadata.namespace ?? ''}:${sa.metadata.name}`;
const agent = (node: string): UserInfo => ({ username: agentName, groups: ['system:serviceaccounts', 'system:authenticated'], extra: { 'authentication.kubernetes.io/node-name': [node] } });

function round(label: string): void {
  const t0 = performance.now();
  names.forEach((name, i) => store.patchEntry(NODES, name, 'merge', { metadata: { annotations: { 'nodetracing.dev/observed': `${label}-${i}` } } }, { user: agent(name) }));
  const ms = performance.now() - t0;
  process.stdout.write(`${label.padEnd(44)} ${ms.toFixed(0).padStart(6)} ms  ${((ms * 1000) / N).toFixed(1).padStart(7)} us/patch\n`);
}

process.stdout.write(`${N} nodes, ${N} merge patches of one annotation each, in-process with a requester\n`);
round('warm-up');
round('no policy');
store.create(VAP, {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicy',
  metadata: { name: 'configmaps-only' },
  spec: { matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['*'], resources: [CONFIGMAPS.resource] }] }, validations: [{ expression: 'true' }] },
});
store.create(VAPB, { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: 'configmaps-only' }, spec: { policyName: 'configmaps-only', validationActions: ['Deny'] } });
round('a policy bound to configmaps (no match)');
store.create(VAP, one(objects, 'ValidatingAdmissionPolicy'));
store.create(VAPB, one(objects, 'ValidatingAdmissionPolicyBinding'));
round("the chart's agent guard (matches, evaluates)");
await server.stop();
