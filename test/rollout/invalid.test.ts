// A policy the controller finds invalid although the API server accepted it (a rule the CRD does
// not carry, or a spec stored before the CRD had the rule): it owns no node and leaves other
// policies' nodes alone, it is reported once per generation, not on every event, and deleting it
// still takes its configuration off its nodes (with its last valid rollout settings, or safe
// defaults) and lets the object go.
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { A_POLICY, ANNOTATION_PREFIX, DROPIN_FILE } from '../../src/api/annotations.js';
import { CRD_NAME } from '../../src/api/crd.js';
import { mergePatch } from '../../src/kube/client.js';
import { CRDS } from '../../src/sim/apiserver/index.js';
import { formatEntry, recordingLogger, type LogEntry } from '../helpers/log.js';
import { condition, converged, restartsByNode, startEnv, waitFor, type Env } from '../helpers/rollout.js';

let env: Env;
const logs: LogEntry[] = [];
before(async () => {
  env = await startEnv({ nodes: 5, versions: ['v1.30.10'], restartMs: 40 });
  await env.startController({ log: recordingLogger((e) => logs.push(e)) });
  // A CRD that takes any spec, as an older CRD without today's rules would.
  const crd = env.cluster.server.store.get<{ spec: { versions: { schema: { openAPIV3Schema: { properties: Record<string, unknown> } } }[] } }>(CRDS, CRD_NAME);
  for (const v of crd.spec.versions) v.schema.openAPIV3Schema.properties['spec'] = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  env.cluster.server.store.update(CRDS, crd);
});
after(async () => env?.stop());

const ref = { group: 'nodetracing.dev', version: 'v1alpha1', plural: 'nodetracingpolicies' };
const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);
const dropin = (node: string): string => join(env.cluster.kubelets.get(node)?.root ?? '', 'etc/kubernetes/kubelet.conf.d', DROPIN_FILE);

test('an invalid policy with a higher priority owns nothing: the valid one keeps all its nodes, without Conflict', async () => {
  await env.createPolicy('halt', { tracing: { samplingRatePerMillion: 8 }, rollout: { maxUnavailable: 2, minReadySeconds: 0 } });
  await waitFor('halt converged', async () => converged(await env.getPolicy('halt')));
  const before = restartsByNode(env);
  await env.createPolicy('bad', {
    priority: 10,
    nodeSelector: { matchLabels: { 'kubernetes.io/hostname': 'node-04' } },
    tracing: { endpoint: 'http://otel:4317' },
  });
  const bad = await waitFor('bad reported invalid', async () => {
    const p = await env.getPolicy('bad');
    return condition(p, 'Stalled')?.reason === 'InvalidSpec' ? p : undefined;
  });
  assert.match(condition(bad, 'Ready')?.message ?? '', /spec\.tracing\.endpoint/);
  assert.equal(bad.status?.targetNodes, 0);
  // Node events that select bad: each would reconcile it again.
  for (let i = 0; i < 5; i++) {
    await env.core.patchNode({ name: 'node-04', body: { metadata: { labels: { poke: String(i) } } } }, mergePatch);
  }
  await new Promise((r) => setTimeout(r, 500));
  const halt = await env.getPolicy('halt');
  assert.equal(halt?.status?.targetNodes, 5);
  assert.equal(condition(halt, 'Conflict')?.status, 'False', condition(halt, 'Conflict')?.message);
  assert.equal((await env.core.readNode({ name: 'node-04' })).metadata?.annotations?.[A_POLICY], 'halt');
  assert.deepEqual(restartsByNode(env), before, 'no node restarted');
  const reports = logs.filter((l) => l.fields['policy'] === 'bad' && /invalid/.test(formatEntry(l)));
  assert.equal(reports.length, 1, `one report for the generation, got ${reports.length}: ${reports.map(formatEntry).join('\n')}`);
  // The user's to fix, not the operator's bug: a warning, without a stack.
  assert.equal(reports[0]?.level, 'warn');
});

test('an invalid policy that owns nothing is deleted at once', async () => {
  await env.custom.deleteClusterCustomObject({ ...ref, name: 'bad' });
  await waitFor('bad gone', async () => (await env.getPolicy('bad')) === undefined);
});

test('a policy whose spec became invalid after its rollout can still be deleted: its configuration comes off every node', async () => {
  await env.patchPolicySpec('halt', { tracing: { endpoint: 'http://otel:4317' } });
  await waitFor('halt reported invalid', async () => condition(await env.getPolicy('halt'), 'Stalled')?.reason === 'InvalidSpec');
  // While invalid and not deleted, its nodes keep the last valid config (no restart for nothing).
  for (const n of env.cluster.nodeNames()) assert.equal(await exists(dropin(n)), true, n);
  // Worse still: no tracing section at all, and a selector that cannot be evaluated.
  await env.custom.patchClusterCustomObject(
    { ...ref, name: 'halt', body: { spec: { tracing: null, nodeSelector: { matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In' }] } } } },
    mergePatch,
  );
  await waitFor('halt reported invalid again', async () => /spec\.tracing/.test(condition(await env.getPolicy('halt'), 'Stalled')?.message ?? ''));

  await env.custom.deleteClusterCustomObject({ ...ref, name: 'halt' });
  await waitFor('halt gone', async () => (await env.getPolicy('halt')) === undefined, 20_000);
  for (const name of env.cluster.nodeNames()) {
    assert.equal(await exists(dropin(name)), false, `${name}: drop-in removed`);
    const n = await env.core.readNode({ name });
    assert.deepEqual(Object.keys(n.metadata?.annotations ?? {}).filter((k) => k.startsWith(ANNOTATION_PREFIX)), [], name);
  }
  assert.ok(env.cluster.maxConcurrentRestarts() <= 2, 'removal kept halt\'s maxUnavailable 2');
});
