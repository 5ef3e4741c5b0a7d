import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { A_APPLIED_HASH, A_STATE, DROPIN_FILE } from '../../src/api/annotations.js';
import { converged, condition, restartsByNode, startEnv, waitFor, type Env } from '../helpers/rollout.js';

let env: Env;
const versions = ['v1.24.17', 'v1.26.15', 'v1.27.16', 'v1.30.10', 'v1.33.1', 'v1.34.0', 'v1.31.6', 'v1.29.14'];

before(async () => {
  env = await startEnv({ nodes: 8, versions, restartMs: 80 });
  await env.startController();
  await env.createPolicy('all', {
    nodeSelector: {},
    tracing: { endpoint: 'otel-collector.observability.svc:4317', samplingRatePerMillion: 12345 },
    rollout: { maxUnavailable: 2, minReadySeconds: 0, verify: 'Configz' },
  });
});
after(async () => env?.stop());

test('happy path: every supported node converges, verified through /configz, within maxUnavailable', async () => {
  const p = await waitFor('policy converged', async () => {
    const p = await env.getPolicy('all');
    return converged(p) ? p : undefined;
  });
  assert.equal(p.status?.targetNodes, 7);
  assert.equal(p.status?.updatedNodes, 7);
  assert.equal(p.status?.unsupportedNodes, 1);
  assert.deepEqual(p.status?.unsupported?.map((u) => [u.kubeletVersion.slice(0, 5), u.message]), [['v1.24', 'kubelet v1.24 has no tracing (needs >= v1.25)']]);
  assert.equal(p.status?.failedNodes, 0);
  assert.equal(condition(p, 'Reconciling')?.status, 'False');
  assert.equal(condition(p, 'Stalled')?.status, 'False');
  assert.equal(condition(p, 'Degraded')?.status, 'False');
  assert.ok(p.metadata.finalizers?.includes('nodetracing.dev/cleanup'));
  assert.equal(env.cluster.maxConcurrentRestarts() <= 2, true, `peak ${env.cluster.maxConcurrentRestarts()}`);

  const restarts = restartsByNode(env);
  for (const [name, kubelet] of env.cluster.kubelets) {
    const node = await env.core.readNode({ name });
    const ann = node.metadata?.annotations ?? {};
    if (kubelet.version.startsWith('v1.24')) {
      assert.equal(restarts.get(name), 0, `${name} (1.24) must not be touched`);
      assert.equal(ann[A_STATE], undefined);
      continue;
    }
    assert.equal(restarts.get(name), 1, `${name} restarted once`);
    assert.equal(ann[A_STATE], 'Applied', name);
    assert.ok(ann[A_APPLIED_HASH]);
    // Proof of effect through the API server's node proxy, as `verify: Configz` does.
    const raw: unknown = await env.core.connectGetNodeProxyWithPath({ name, path: 'configz' });
    const configz = (typeof raw === 'string' ? JSON.parse(raw) : raw) as {
      kubeletconfig: { tracing?: unknown; featureGates?: Record<string, boolean> };
    };
    assert.deepEqual(configz.kubeletconfig.tracing, { endpoint: 'otel-collector.observability.svc:4317', samplingRatePerMillion: 12345 });
    const wantsGate = kubelet.version.startsWith('v1.26');
    assert.equal(configz.kubeletconfig.featureGates?.KubeletTracing, wantsGate ? true : undefined, name);
    // The file the kubelet read: our drop-in where the kubelet has --config-dir, else the main file.
    if (kubelet.useDropinDir) {
      const dropin = parse(await readFile(join(kubelet.root, 'etc/kubernetes/kubelet.conf.d', DROPIN_FILE), 'utf8')) as { kind: string };
      assert.equal(dropin.kind, 'KubeletConfiguration');
    } else {
      const main = await readFile(join(kubelet.root, 'var/lib/kubelet/config.yaml'), 'utf8');
      assert.match(main, /samplingRatePerMillion: 12345/);
      assert.match(main, /^#/m, 'comments of the main config are kept');
    }
  }
});

test('a second reconcile of a converged policy writes nothing and restarts nothing', async () => {
  const before = restartsByNode(env);
  const writes = env.controllers[0]?.writer.writes ?? 0;
  await env.patchPolicySpec('all', { priority: 1 }); // new generation, same rendered config
  await waitFor('new generation observed', async () => {
    const p = await env.getPolicy('all');
    return p?.status?.observedGeneration === p?.metadata.generation && converged(p);
  });
  assert.deepEqual(restartsByNode(env), before);
  assert.ok((env.controllers[0]?.writer.writes ?? 0) - writes <= 2, 'only the status write (and maybe an event)');
});
