// A controller that loses its Lease stops acting at once, and campaigns again in the same process
// (see src/kube/leader.ts for why it does not exit): once the other holder stops renewing, it
// leads again and picks up what changed while it was not acting. Real HTTP, real client-node.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { converged, startEnv, waitFor, type Env } from '../helpers/rollout.js';
import { recordingLogger, type LogEntry } from '../helpers/log.js';

let env: Env | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
});

test('a controller that loses its Lease stops acting, campaigns again, and leads once the Lease is free', async () => {
  env = await startEnv({ nodes: 3, versions: ['v1.32.2'], restartMs: 50 });
  const e = env;
  const logs: LogEntry[] = [];
  const lease = { noLeaderElection: false, leaseNamespace: 'kube-system', leaseName: 'kto', leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 200 };
  const c = await env.startController({ ...lease, identity: 'a', log: recordingLogger((l) => logs.push(l)) });
  await waitFor('a leads', () => c.isLeader());

  // Another replica takes the Lease (as one would after a's renewals failed long enough).
  const coord = env.kc.makeApiClient(k8s.CoordinationV1Api);
  const held = await coord.readNamespacedLease({ name: 'kto', namespace: 'kube-system' });
  const now = new k8s.V1MicroTime(Date.now());
  await coord.replaceNamespacedLease({
    name: 'kto', namespace: 'kube-system',
    // eslint-disable-next-line @typescript-eslint/no-misused-spread -- a model class by declaration only
    body: { ...held, spec: { ...held.spec, holderIdentity: 'intruder', leaseDurationSeconds: 3, acquireTime: now, renewTime: now } },
  });
  await waitFor('a stops acting', () => !c.isLeader(), 5_000, 20);
  const writes = c.writer.writes;

  // While the intruder's Lease is fresh (3 s, never renewed), a does not act on a new policy.
  await env.createPolicy('p', { tracing: { samplingRatePerMillion: 7 }, rollout: { maxUnavailable: 3, minReadySeconds: 0 } });
  await new Promise((r) => setTimeout(r, 300));
  if (!c.isLeader()) {
    assert.equal(c.writer.writes, writes, 'no write while not leading');
    assert.equal((await e.getPolicy('p'))?.status, undefined);
  }

  // The intruder never renews: a campaigns again, takes the Lease, and rolls the policy out.
  await waitFor('a leads again', () => c.isLeader(), 10_000, 20);
  assert.equal((await coord.readNamespacedLease({ name: 'kto', namespace: 'kube-system' })).spec?.holderIdentity, 'a');
  await waitFor('converged', async () => converged(await e.getPolicy('p')));
  const terms = logs.filter((l) => /^leading|^lost leadership/.test(l.msg)).map((l) => `${l.level} ${l.msg}`);
  assert.deepEqual(terms, ['info leading: acting on every policy', 'warn lost leadership: stopped acting', 'info leading: acting on every policy']);
});
