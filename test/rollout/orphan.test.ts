// A policy force-deleted (its finalizer stripped by hand) still gets its drop-ins taken off.
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ANNOTATION_PREFIX, DROPIN_FILE } from '../../src/api/annotations.js';
import { converged, startEnv, waitFor, type Env } from '../helpers/rollout.js';
import { mergePatch } from '../../src/kube/client.js';

let env: Env;
before(async () => {
  env = await startEnv({ nodes: 3, versions: ['v1.32.2'], restartMs: 40 });
  await env.startController();
});
after(async () => env?.stop());

test('force-deleted policy: the controller still removes its configuration from the nodes', async () => {
  await env.createPolicy('gone', { tracing: { samplingRatePerMillion: 4 }, rollout: { maxUnavailable: 3, minReadySeconds: 0 } });
  await waitFor('converged', async () => converged(await env.getPolicy('gone')));
  const ref = { group: 'nodetracing.dev', version: 'v1alpha1', plural: 'nodetracingpolicies', name: 'gone' };
  await env.custom.patchClusterCustomObject({ ...ref, body: { metadata: { finalizers: null } } }, mergePatch);
  await env.custom.deleteClusterCustomObject(ref);
  assert.equal(await env.getPolicy('gone'), undefined);
  await waitFor('every node cleaned', async () => {
    const nodes = await env.core.listNode();
    return nodes.items.every((n) => !Object.keys(n.metadata?.annotations ?? {}).some((k) => k.startsWith(ANNOTATION_PREFIX)));
  });
  for (const [name, k] of env.cluster.kubelets) {
    await assert.rejects(access(join(k.root, 'etc/kubernetes/kubelet.conf.d', DROPIN_FILE)), name);
    assert.equal('tracing' in (k.configz()?.kubeletconfig ?? {}), false, name);
  }
});
