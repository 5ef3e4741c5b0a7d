// Chaos at the API server: 429/500 bursts, dropped watches, forced 410 Gone and a server restart
// (state on disk) during a rollout. The controller and the agents must recover by themselves, the
// rollout must end exactly where a fault-free one ends, restart each kubelet once, keep to
// maxUnavailable, and retry within bounds (no hot loop against a failing server).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ANNOTATION_PREFIX, A_MESSAGE, A_STATE_TIME, A_DESIRED_TIME, A_TRACEPARENT } from '../../src/api/annotations.js';
import { GROUP, PLURAL, VERSION, type NodeTracingPolicy } from '../../src/api/types.js';
import { NODES, type ApiServer } from '../../src/sim/apiserver/index.js';
import { prng } from '../helpers/policy.js';
import { converged, restartsByNode, startEnv, waitFor, type Env } from '../helpers/rollout.js';

const POLICIES = { group: GROUP, version: VERSION, resource: PLURAL };
function policyNow(env: Env): NodeTracingPolicy | undefined {
  return env.cluster.server.store.tryGet<NodeTracingPolicy>(POLICIES, 'p');
}

const NODE_COUNT = 8;
const MAX_UNAVAILABLE = 2;
const MAX_FAULTS = 8;
const VERSIONS = ['v1.24.17', 'v1.26.15', 'v1.28.15', 'v1.31.6', 'v1.34.0', 'v1.35.2', 'v1.29.14', 'v1.33.1'];
const POLICY = { tracing: { endpoint: 'otel-collector.observability.svc:4317', samplingRatePerMillion: 4242 }, rollout: { maxUnavailable: MAX_UNAVAILABLE, minReadySeconds: 0 } };

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

type Fault = (server: ApiServer, rand: () => number) => Promise<string> | string;

const MATCHES = [undefined, { verb: 'patch', resource: 'nodes' }, { resource: PLURAL }, { verb: 'list' }, { verb: 'watch' }, { verb: 'patch' }] as const;

const burst: Fault = (s, rand) => {
  const status = rand() < 0.5 ? 429 : 500;
  const count = 1 + Math.floor(rand() * 6);
  const match = MATCHES[Math.floor(rand() * MATCHES.length)];
  s.faults.failNext(count, status, match);
  return `${count}x${status} ${JSON.stringify(match ?? 'any')}`;
};
const drop: Fault = (s) => {
  s.faults.dropWatches();
  return 'drop watches';
};
const gone: Fault = (s, rand) => {
  const n = 1 + Math.floor(rand() * 3);
  s.faults.forceGoneOnNextWatch(n);
  s.faults.dropWatches();
  return `drop + ${n}x410`;
};
const restart: Fault = async (s) => {
  await s.restart();
  return 'server restart';
};

interface Outcome {
  fingerprint: unknown;
  requests: number;
  writes: number;
  faults: string[];
  ms: number;
}

/** What must not depend on the faults: who carries which config, the agents' verdicts, status. */
function fingerprint(env: Env): unknown {
  const volatile = new Set([A_MESSAGE, A_STATE_TIME, A_DESIRED_TIME, A_TRACEPARENT]);
  const nodes = env.cluster.server.store.list<{ metadata: { name: string; annotations?: Record<string, string> } }>(NODES).items.map((n) => [
    n.metadata.name,
    Object.fromEntries(Object.entries(n.metadata.annotations ?? {}).filter(([k]) => k.startsWith(ANNOTATION_PREFIX) && !volatile.has(k)).sort()),
  ]);
  const p = env.cluster.server.store.get<NodeTracingPolicy>({ group: GROUP, version: VERSION, resource: PLURAL }, 'p');
  const s = p.status;
  const configz = [...env.cluster.kubelets].map(([n, k]) => [n, k.configz()?.kubeletconfig['tracing'] ?? null]);
  return {
    nodes,
    configz,
    status: {
      observedGeneration: s?.observedGeneration, configHash: s?.configHash, targetNodes: s?.targetNodes, updatedNodes: s?.updatedNodes,
      failedNodes: s?.failedNodes, unsupportedNodes: s?.unsupportedNodes, conditions: (s?.conditions ?? []).map((c) => [c.type, c.status, c.reason]).sort(),
    },
    finalizers: p.metadata.finalizers,
  };
}

async function rollout(seed: number, faults: Fault[], stateDir?: string): Promise<Outcome> {
  const t0 = Date.now();
  const rand = prng(seed);
  // Kubelet restarts long enough (4 waves of 200 ms) that the faults, 20-100 ms apart, land while
  // the rollout runs: the agents no longer poll for health, so a 60 ms restart ended it too soon.
  const env = await startEnv({ nodes: NODE_COUNT, versions: VERSIONS, restartMs: 200, ...(stateDir ? { stateDir } : {}) });
  const injected: string[] = [];
  try {
    const server = env.cluster.server;
    server.resetRequestCounts();
    await env.startController();
    await env.createPolicy('p', POLICY);
    let done = false;
    const injector = (async () => {
      // A handful of faults during the rollout (the last may land just after it converged):
      // recovery is the point, not a server that never works.
      while (!done && faults.length > 0 && injected.length < MAX_FAULTS) {
        await new Promise((r) => setTimeout(r, 20 + Math.floor(rand() * 80)));
        if (done) break;
        const f = faults[Math.floor(rand() * faults.length)];
        if (f) injected.push(await f(server, rand));
      }
    })();
    try {
      // Polled in-process, not over HTTP: the request count below is the operator's alone (and a
      // test poll must not meet the injected faults either).
      await waitFor(`converged (seed ${seed})`, () => converged(policyNow(env)), 45_000, 50, () => `faults: ${injected.join(', ')}`);
    } finally {
      done = true;
      await injector;
    }
    server.faults.reset();
    // Settled: converged, and still converged a moment later (no late flapping).
    await new Promise((r) => setTimeout(r, 300));
    await waitFor('still converged', () => converged(policyNow(env)), 15_000);
    for (const [node, n] of restartsByNode(env)) {
      const supported = (env.cluster.kubelets.get(node)?.minor ?? 0) >= 25;
      assert.equal(n, supported ? 1 : 0, `${node} restarted ${n} times (seed ${seed}; faults: ${injected.join(', ')})`);
    }
    const peak = env.cluster.maxConcurrentRestarts();
    assert.ok(peak <= MAX_UNAVAILABLE, `${peak} kubelets restarting at once (seed ${seed})`);
    const counts = server.requestCounts();
    return { fingerprint: fingerprint(env), requests: counts.reads + counts.writes, writes: counts.writes, faults: injected, ms: Date.now() - t0 };
  } finally {
    await env.stop();
  }
}

let reference: Outcome | undefined;

test('fault-free reference rollout', async (t) => {
  reference = await rollout(1, []);
  t.diagnostic(`${reference.requests} requests (${reference.writes} writes) in ${reference.ms} ms`);
});

async function withFaults(t: { diagnostic(m: string): void }, seed: number, faults: Fault[], stateDir?: string): Promise<void> {
  assert.ok(reference, 'the reference ran first');
  const r = await rollout(seed, faults, stateDir);
  t.diagnostic(`${r.faults.length} faults (${r.faults.join(', ')}); ${r.requests} requests (${r.writes} writes) in ${r.ms} ms`);
  assert.ok(r.faults.length >= 3, `only ${r.faults.length} faults landed during the rollout`);
  assert.deepEqual(r.fingerprint, reference.fingerprint, 'final state differs from the fault-free rollout');
  // Retries are bounded: the faulty run may cost more, never a storm. The bound is generous (a
  // 10 s informer back-off and 500 ms agent back-off both mean a few requests per fault).
  const bound = reference.requests * 3 + 40 * r.faults.length;
  assert.ok(r.requests <= bound, `${r.requests} requests > bound ${bound} (reference ${reference.requests})`);
}

test('429/500 bursts on every verb during the rollout: recovers, same end state, bounded retries', async (t) => {
  await withFaults(t, 11, [burst]);
});

test('dropped watches and forced 410 Gone during the rollout: informers and agents relist and finish', async (t) => {
  await withFaults(t, 22, [drop, gone]);
});

test('API server restarted (state on disk) during the rollout, with bursts around it', async (t) => {
  const stateDir = await mkdtemp(join(tmpdir(), 'kto-faults-state-'));
  dirs.push(stateDir);
  await withFaults(t, 33, [restart, burst, drop]);
});
