// Crash safety: the controller keeps no state of its own that matters; a new one (or the standby)
// resumes from the annotations in the API, never exceeding maxUnavailable and never restarting a
// node twice for the same config.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { converged, restartsByNode, startEnv, waitFor, type Env } from '../helpers/rollout.js';

let env: Env | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
});

async function updatedCount(e: Env, name: string): Promise<number> {
  return (await e.getPolicy(name))?.status?.updatedNodes ?? 0;
}

test('controller killed mid-rollout and restarted: converges without extra restarts', async () => {
  env = await startEnv({ nodes: 6, versions: ['v1.32.2'], restartMs: 120 });
  const first = await env.startController();
  await env.createPolicy('p', { tracing: { samplingRatePerMillion: 3 }, rollout: { maxUnavailable: 2, minReadySeconds: 0 } });
  const e = env;
  await waitFor('two nodes updated', async () => ((await updatedCount(e, 'p')) >= 2 ? true : undefined));
  await first.stop({ crash: true });
  await env.startController();
  await waitFor('converged', async () => converged(await e.getPolicy('p')));
  for (const [node, n] of restartsByNode(env)) assert.equal(n, 1, `${node} restarted once`);
  assert.ok(env.cluster.maxConcurrentRestarts() <= 2);
});

test('two controllers: one leader acts; when it dies the standby takes over within the lease and finishes', async () => {
  env = await startEnv({ nodes: 6, versions: ['v1.29.14', 'v1.34.0'], restartMs: 150 });
  const lease = { noLeaderElection: false, leaseNamespace: 'kube-system', leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 200 };
  const a = await env.startController({ ...lease, identity: 'a' });
  const b = await env.startController({ ...lease, identity: 'b' });
  const e = env;
  const leader = await waitFor('a leader', () => (a.isLeader() ? a : b.isLeader() ? b : undefined));
  const standby = leader === a ? b : a;
  assert.equal(standby.isLeader(), false);

  await env.createPolicy('p', { tracing: { samplingRatePerMillion: 9 }, rollout: { maxUnavailable: 1, minReadySeconds: 0 } });
  await waitFor('two nodes updated', async () => ((await updatedCount(e, 'p')) >= 2 ? true : undefined));
  assert.equal(standby.writer.writes, 0, 'the standby wrote nothing');

  const killedAt = Date.now();
  await leader.stop({ crash: true });
  await waitFor('standby leads', () => (standby.isLeader() ? true : undefined), 5_000, 20);
  // client-go's bound: the lease runs out leaseDuration after the standby last saw it renewed,
  // and the standby looks every retryPeriod with up to 1.2x jitter (both sides of the crash); plus
  // a second for timers run late when the suite loads both cores (2,581 ms against a 200 ms slack
  // failed once). A standby waiting for a second lease would still be caught: 3,000 ms later.
  const bound = lease.leaseDurationMs + 2 * 2.2 * lease.retryPeriodMs + 1_000;
  assert.ok(Date.now() - killedAt <= bound, `took over in ${Date.now() - killedAt} ms (bound ${bound})`);
  await waitFor('converged', async () => converged(await e.getPolicy('p')));
  for (const [node, n] of restartsByNode(env)) assert.equal(n, 1, `${node} restarted once`);
  assert.ok(env.cluster.maxConcurrentRestarts() <= 1);
});
