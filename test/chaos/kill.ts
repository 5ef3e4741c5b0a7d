// The controller-kill chaos, shared by test/chaos/controller-kill.test.ts (a few seeds, bounded)
// and hack/chaos-long.ts (many seeds, by hand). One seed = one embedded cluster, a few rollouts
// one after another, and the controller killed (`stop({ crash: true })`, as SIGKILL would) at
// seeded random moments of each rollout, then started again.
// A kill is spent only on a rollout still in flight: how fast a rollout converges depends on the
// machine (with leader election, each new leader is found and killed within milliseconds, yet
// does a round of work), so a kill that finds the rollout converged is carried over to the next
// rollout, and extra rollouts run until every kill has landed on one in flight.
import { A_DESIRED_HASH } from '../../src/api/annotations.js';
import { NODES } from '../../src/sim/apiserver/index.js';
import type { Controller, ControllerOptions } from '../../src/controller/controller.js';
import { prng } from '../helpers/policy.js';
import { converged, restartsByNode, startEnv, waitFor, type Env } from '../helpers/rollout.js';

export interface KillChaosOptions {
  seed: number;
  nodes: number;
  rollouts: number;
  killsPerRollout: number;
  maxUnavailable: number;
  restartMs: number;
  /** Two replicas with Lease election; the leader is the one killed. */
  leaderElection?: boolean;
  /** Longest random wait before a kill (after the previous replica synced). */
  maxKillDelayMs?: number;
}

export interface KillChaosResult {
  seed: number;
  /** Rollouts run: the ones asked for, plus any needed to land every kill mid-rollout. */
  rollouts: number;
  kills: number;
  /** Kills that landed while the rollout was still under way. */
  midRolloutKills: number;
  maxConcurrent: number;
  /** node -> [kubelet restarts, distinct desired hashes it was handed]. */
  perNode: Map<string, [number, number]>;
  supported: string[];
  unsupported: string[];
  problems: string[];
  ms: number;
}

// Unsupported (1.24), main-file mode with the gate (1.26), drop-in alpha/beta/GA.
const VERSIONS = ['v1.24.17', 'v1.26.15', 'v1.28.15', 'v1.31.6', 'v1.34.0', 'v1.35.2', 'v1.29.14', 'v1.33.1'];

export const LEASE: Partial<ControllerOptions> = {
  noLeaderElection: false,
  leaseNamespace: 'kube-system',
  leaseDurationMs: 1500,
  renewDeadlineMs: 1000,
  retryPeriodMs: 200,
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs one seed. Collects every violated property in `problems` instead of throwing, so the
 *  long run can report them all; throws only when the environment itself breaks. */
export async function runKillChaos(o: KillChaosOptions): Promise<KillChaosResult> {
  const t0 = Date.now();
  const rand = prng(o.seed);
  const env = await startEnv({ nodes: o.nodes, versions: VERSIONS, restartMs: o.restartMs });
  // Every desired hash each node was ever handed, seen from the store itself.
  const handed = new Map<string, Set<string>>();
  const stopWatch = env.cluster.server.store.watch(NODES, {}, (_type, obj) => {
    const name = obj.metadata.name ?? '';
    const h = (obj.metadata as { annotations?: Record<string, string> }).annotations?.[A_DESIRED_HASH];
    if (!h) return;
    const set = handed.get(name) ?? new Set<string>();
    set.add(h);
    handed.set(name, set);
  });
  const problems: string[] = [];
  let kills = 0;
  let midRolloutKills = 0;
  let serial = 0;
  const start = (): Promise<Controller> =>
    env.startController(o.leaderElection ? { ...LEASE, identity: `c${serial++}` } : { identity: `c${serial++}` });
  try {
    let live: Controller[] = [await start()];
    if (o.leaderElection) live.push(await start());
    const totalKills = o.rollouts * o.killsPerRollout;
    let owed = 0;
    let r = 0;
    for (; r < o.rollouts || owed > 0; r++) {
      if (r >= o.rollouts + totalKills) throw new Error(`seed ${o.seed}: ${owed} kills still owed after ${r} rollouts: each converged before a kill`);
      const spec = {
        tracing: { samplingRatePerMillion: 1000 + r, ...(r % 2 ? { endpoint: `otel-${r}.observability.svc:4317` } : {}) },
        rollout: { maxUnavailable: o.maxUnavailable, minReadySeconds: 0 },
      };
      if (r === 0) await env.createPolicy('p', spec);
      else await env.patchPolicySpec('p', spec);
      if (r < o.rollouts) owed += o.killsPerRollout;
      while (owed > 0) {
        await sleep(Math.floor(rand() * (o.maxKillDelayMs ?? 120)));
        const victim = o.leaderElection
          ? await waitFor('a leader', () => live.find((c) => c.isLeader()), 10_000, 10)
          : live[0];
        if (!victim) throw new Error('no live controller');
        const policy = await env.getPolicy('p');
        if (converged(policy)) break; // too late for this rollout: the kill goes to the next one
        midRolloutKills++;
        owed--;
        await victim.stop({ crash: true });
        kills++;
        live = live.filter((c) => c !== victim);
        // Dead for a seeded moment (a pod being rescheduled), then a fresh replica.
        await sleep(Math.floor(rand() * 40));
        live.push(await start());
      }
      await waitFor(`rollout ${r} converged (seed ${o.seed})`, async () => converged(await env.getPolicy('p')), 30_000);
    }
    return collect(env, o, handed, problems, { rollouts: r, kills, midRolloutKills, t0 });
  } finally {
    stopWatch();
    await env.stop();
  }
}

function collect(
  env: Env,
  o: KillChaosOptions,
  handed: Map<string, Set<string>>,
  problems: string[],
  c: { rollouts: number; kills: number; midRolloutKills: number; t0: number },
): KillChaosResult {
  const maxConcurrent = env.cluster.maxConcurrentRestarts();
  if (maxConcurrent > o.maxUnavailable) problems.push(`${maxConcurrent} kubelets restarting at once (maxUnavailable ${o.maxUnavailable})`);
  const perNode = new Map<string, [number, number]>();
  const supported: string[] = [];
  const unsupported: string[] = [];
  for (const [node, restarts] of restartsByNode(env)) {
    const kubelet = env.cluster.kubelets.get(node);
    const isSupported = kubelet !== undefined && kubelet.minor >= 25;
    (isSupported ? supported : unsupported).push(node);
    const configs = handed.get(node)?.size ?? 0;
    perNode.set(node, [restarts, configs]);
    if (restarts !== configs) problems.push(`${node}: ${restarts} kubelet restarts for ${configs} distinct configs`);
    const want = isSupported ? c.rollouts : 0;
    if (configs !== want) problems.push(`${node}: handed ${configs} configs, expected ${want}`);
    const tracing = kubelet?.configz()?.kubeletconfig['tracing'] as { samplingRatePerMillion?: number } | undefined;
    if (isSupported && tracing?.samplingRatePerMillion !== 1000 + c.rollouts - 1) {
      problems.push(`${node}: kubelet runs ${JSON.stringify(tracing)}, not the last rollout's config`);
    }
  }
  return { seed: o.seed, rollouts: c.rollouts, kills: c.kills, midRolloutKills: c.midRolloutKills, maxConcurrent, perNode, supported, unsupported, problems, ms: Date.now() - c.t0 };
}
