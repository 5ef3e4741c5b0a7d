// The controller-kill chaos of test/chaos/controller-kill.test.ts with many more seeds, for manual
// runs (not part of npm test). Each seed: a fresh embedded cluster, several rollouts, the
// controller SIGKILL-equivalently stopped at seeded moments and restarted; every violated
// property is listed with its seed, so a failure replays with --from SEED --seeds 1.
// Run: node --import tsx hack/chaos-long.ts [--seeds 500] [--from 1] [--kills 10] [--rollouts 3]
//        [--nodes 8] [--max-unavailable 2] [--restart-ms 40] [--leader-every 10]
import { runKillChaos } from '../test/chaos/kill.js';

function num(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
}

const seeds = num('seeds', 500);
const from = num('from', 1);
const leaderEvery = num('leader-every', 10); // every Nth seed runs two leader-elected replicas
const started = Date.now();
let kills = 0;
let mid = 0;
const failed: Array<{ seed: number; problems: string[] }> = [];
for (let seed = from; seed < from + seeds; seed++) {
  const leaderElection = leaderEvery > 0 && seed % leaderEvery === 0;
  try {
    const r = await runKillChaos({
      seed,
      nodes: num('nodes', 8),
      rollouts: num('rollouts', 3),
      killsPerRollout: leaderElection ? Math.min(3, num('kills', 10)) : num('kills', 10),
      maxUnavailable: num('max-unavailable', 2),
      restartMs: num('restart-ms', 40),
      leaderElection,
      maxKillDelayMs: 50,
    });
    kills += r.kills;
    mid += r.midRolloutKills;
    if (r.problems.length > 0) failed.push({ seed, problems: r.problems });
    console.log(`seed ${seed}${leaderElection ? ' (leader election)' : ''}: ${r.kills} kills (${r.midRolloutKills} mid-rollout), peak ${r.maxConcurrent} restarting, ${r.ms} ms${r.problems.length ? `: FAILED ${r.problems.join('; ')}` : ''}`);
  } catch (e: unknown) {
    failed.push({ seed, problems: [e instanceof Error ? e.message : String(e)] });
    console.log(`seed ${seed}: ERROR ${e instanceof Error ? e.message : String(e)}`);
  }
}
console.log(`\n${seeds} seeds, ${kills} kills (${mid} mid-rollout), ${failed.length} failed, ${((Date.now() - started) / 1000).toFixed(0)} s`);
for (const f of failed) console.log(`  seed ${f.seed}: ${f.problems.join('; ')}`);
process.exitCode = failed.length > 0 ? 1 : 0;
