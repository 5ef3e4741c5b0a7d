// Chaos: the controller is killed (stop({ crash: true }), as SIGKILL would leave it: Lease held,
// in-memory expectations gone) at seeded random moments of rollouts, and started again. Whatever
// the moment, the kubelets' own logs must show: never more than maxUnavailable restarting at once,
// every supported node on the last config, and one restart per distinct config a node was handed.
// Seeds are fixed; a failure names its seed, and hack/chaos-long.ts replays any seed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runKillChaos, type KillChaosResult } from './kill.js';

function check(r: KillChaosResult): void {
  assert.deepEqual(r.problems, [], `seed ${r.seed}: ${r.problems.join('; ')}`);
  assert.ok(r.supported.length > 0 && r.unsupported.length > 0, 'the cluster mixes supported and unsupported kubelets');
}

// Kills that land after convergence prove little: the harness spends a kill only on a rollout
// still in flight (status not converged), running extra rollouts if the asked ones converge
// first, so every kill counts whatever the machine's speed.
test('single controller killed 50 times over 5+ rollouts (8 nodes, maxUnavailable 2): safe and converged', async (t) => {
  let kills = 0;
  let mid = 0;
  for (const seed of [101, 202]) {
    const asked = seed === 101 ? 3 : 2;
    const r = await runKillChaos({ seed, nodes: 8, rollouts: asked, killsPerRollout: 10, maxUnavailable: 2, restartMs: 60, maxKillDelayMs: 50 });
    check(r);
    assert.ok(r.rollouts >= asked);
    kills += r.kills;
    mid += r.midRolloutKills;
    t.diagnostic(`seed ${seed}: ${r.kills} kills, ${r.midRolloutKills} mid-rollout over ${r.rollouts} rollouts, peak ${r.maxConcurrent} restarting, ${r.ms} ms`);
  }
  assert.equal(kills, 50);
  assert.equal(mid, kills, 'every kill landed on a rollout in flight');
});

test('two leader-elected replicas, the leader killed 10 times over 2+ rollouts: the standby finishes safely', async (t) => {
  const r = await runKillChaos({
    seed: 303, nodes: 10, rollouts: 2, killsPerRollout: 5, maxUnavailable: 2, restartMs: 150, leaderElection: true, maxKillDelayMs: 150,
  });
  check(r);
  t.diagnostic(`seed ${r.seed}: ${r.kills} kills, ${r.midRolloutKills} mid-rollout over ${r.rollouts} rollouts, peak ${r.maxConcurrent} restarting, ${r.ms} ms`);
  assert.equal(r.kills, 10);
  assert.ok(r.rollouts >= 2);
  assert.equal(r.midRolloutKills, r.kills, 'every leader kill landed on a rollout in flight');
});
