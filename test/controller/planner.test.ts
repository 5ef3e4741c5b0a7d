import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { REMOVED_HASH } from '../../src/api/annotations.js';
import { ROLLOUT_DEFAULTS, type ResolvedRollout } from '../../src/api/types.js';
import {
  nodeOrderKey,
  planRollout,
  resolveMaxUnavailable,
  type NodePhase,
  type Plan,
  type PlanNode,
} from '../../src/controller/planner.js';
import { prng } from '../helpers/prng.js';

const T = 'hash-t';
const OLD = 'hash-old';
const NOW = 1_000_000_000;
const S = 1000;

/** A fresh node that has never been released: Pending. */
function node(name: string, over: Partial<PlanNode> = {}): PlanNode {
  return { name, uid: `uid-${name}`, ready: true, appliedHash: OLD, targetHash: T, ...over };
}
/** Released for T at `ago` ms before NOW, agent not yet reporting. */
function released(name: string, ago = 10 * S, over: Partial<PlanNode> = {}): PlanNode {
  return node(name, { desiredHash: T, desiredTimeMs: NOW - ago, ...over });
}
/** Applied T `ago` ms before NOW. */
function applied(name: string, ago: number, over: Partial<PlanNode> = {}): PlanNode {
  return released(name, ago + 5 * S, {
    appliedHash: T, state: 'Applied', stateHash: T, stateTimeMs: NOW - ago, ...over,
  });
}
function rollout(over: Partial<ResolvedRollout> = {}): ResolvedRollout {
  return { ...ROLLOUT_DEFAULTS, ...over };
}
/** Names in release order for a given set of nodes and target hash. */
function orderOf(nodes: PlanNode[]): string[] {
  return [...nodes]
    .sort((a, b) => (nodeOrderKey(a.uid, a.targetHash) < nodeOrderKey(b.uid, b.targetHash) ? -1 : 1))
    .map((n) => n.name);
}

interface Case {
  name: string;
  nodes: PlanNode[];
  borrowed?: number;
  rollout?: Partial<ResolvedRollout>;
  want: Partial<Omit<Plan, 'phases'>> & { phases?: Record<string, NodePhase>; releaseCount?: number };
}

const three = [node('a'), node('b'), node('c')];

const cases: Case[] = [
  {
    name: 'spec changed mid-rollout: a node still applying the older hash holds its slot',
    nodes: [
      node('a', { desiredHash: OLD + '-2', desiredTimeMs: NOW - S, state: 'Applying', stateHash: OLD + '-2' }),
      node('b'),
    ],
    rollout: { maxUnavailable: 1 },
    want: { release: [], inProgress: 1, pending: 1, unavailable: 1, phases: { a: 'InProgress', b: 'Pending' } },
  },
  {
    name: 'spec changed mid-rollout: a node released for the older hash, agent silent, holds its slot',
    nodes: [node('a', { desiredHash: OLD + '-2', desiredTimeMs: NOW - S }), node('b')],
    rollout: { maxUnavailable: 1 },
    want: { release: [], unavailable: 1, phases: { a: 'InProgress', b: 'Pending' } },
  },
  {
    name: 'spec changed mid-rollout: once the agent finished the older hash the node is Pending for T',
    nodes: [node('a', { desiredHash: OLD + '-2', desiredTimeMs: NOW - S, state: 'Applied', stateHash: OLD + '-2', appliedHash: OLD + '-2' })],
    rollout: { maxUnavailable: 1 },
    want: { release: ['a'], phases: { a: 'Pending' } },
  },
  {
    name: 'spec changed mid-rollout: an older release unanswered past nodeTimeoutSeconds is Failed',
    nodes: [node('a', { desiredHash: OLD + '-2', desiredTimeMs: NOW - 301 * S })],
    want: { release: [], failed: 1, timedOut: ['a'], halted: true, phases: { a: 'Failed' } },
  },
  {
    name: 'already applied is Updated without release',
    nodes: [node('a', { appliedHash: T }), node('b', { appliedHash: T })],
    want: { release: [], updated: 2, complete: true, unavailable: 0, phases: { a: 'Updated', b: 'Updated' } },
  },
  {
    name: 'applied and soaked is Updated',
    nodes: [applied('a', 60 * S)],
    want: { updated: 1, complete: true, unavailable: 0, release: [] },
  },
  {
    name: 'maxUnavailable 1 releases one, first in stable order',
    nodes: three,
    want: { release: orderOf(three).slice(0, 1), pending: 3, unavailable: 0, maxUnavailable: 1 },
  },
  {
    name: 'maxUnavailable 2 releases two',
    nodes: three,
    rollout: { maxUnavailable: 2 },
    want: { release: orderOf(three).slice(0, 2), maxUnavailable: 2 },
  },
  {
    name: 'maxUnavailable larger than the pool releases every ready pending node',
    nodes: three,
    rollout: { maxUnavailable: 10 },
    want: { releaseCount: 3 },
  },
  {
    name: 'in-progress node holds its slot',
    nodes: [released('a'), node('b')],
    want: { release: [], inProgress: 1, unavailable: 1, requeueAfterMs: 300 * S - 10 * S },
  },
  {
    name: 'soaking node holds its slot until minReadySeconds',
    nodes: [applied('a', 10 * S), node('b')],
    want: { release: [], soaking: 1, unavailable: 1, phases: { a: 'Soaking', b: 'Pending' }, requeueAfterMs: 20 * S },
  },
  {
    name: 'soak over frees the slot',
    nodes: [applied('a', 30 * S), node('b')],
    want: { release: ['b'], updated: 1, soaking: 0, unavailable: 0 },
  },
  {
    name: 'minReadySeconds 0 never soaks',
    nodes: [applied('a', 0), node('b')],
    rollout: { minReadySeconds: 0 },
    want: { release: ['b'], updated: 1 },
  },
  {
    name: 'not-Ready pending node consumes a slot',
    nodes: [node('a', { ready: false }), node('b')],
    want: { release: [], unavailable: 1, pending: 2 },
  },
  {
    name: 'not-Ready pending node is never released',
    nodes: [node('a', { ready: false }), node('b')],
    rollout: { maxUnavailable: 5 },
    want: { release: ['b'] },
  },
  {
    name: 'applied but not Ready stays InProgress',
    nodes: [applied('a', 60 * S, { ready: false }), node('b')],
    rollout: { maxUnavailable: 2 },
    want: { phases: { a: 'InProgress', b: 'Pending' }, unavailable: 1, release: ['b'] },
  },
  {
    name: 'config matching but node not Ready is Pending and unreleased',
    nodes: [node('a', { appliedHash: T, ready: false })],
    rollout: { maxUnavailable: 5 },
    want: { phases: { a: 'Pending' }, unavailable: 1, release: [], complete: false },
  },
  {
    name: 'Applied for another hash is not Updated',
    nodes: [node('a', { appliedHash: T, state: 'Applied', stateHash: OLD })],
    want: { phases: { a: 'Pending' }, release: ['a'] },
  },
  {
    name: 'Applying for T is InProgress',
    nodes: [released('a', 10 * S, { state: 'Applying', stateHash: T })],
    want: { phases: { a: 'InProgress' }, inProgress: 1 },
  },
  {
    name: 'failure halts at maxFailures 0',
    nodes: [released('a', 10 * S, { state: 'Failed', stateHash: T }), node('b'), node('c')],
    rollout: { maxUnavailable: 3 },
    want: { failed: 1, halted: true, release: [], unavailable: 1, done: false },
  },
  {
    name: 'rolled back and Ready: counted against maxFailures, not maxUnavailable',
    nodes: [released('a', 10 * S, { state: 'RolledBack', stateHash: T }), node('b'), node('c')],
    rollout: { maxUnavailable: 1, maxFailures: 1 },
    want: { failed: 1, halted: false, unavailable: 0, releaseCount: 1 },
  },
  {
    name: 'raising maxFailures resumes a halted rollout even at maxUnavailable 1',
    nodes: [
      released('a', 10 * S, { state: 'RolledBack', stateHash: T }),
      released('b', 10 * S, { state: 'RolledBack', stateHash: T }),
      node('c'),
    ],
    rollout: { maxUnavailable: 1, maxFailures: 2 },
    want: { failed: 2, halted: false, unavailable: 0, release: ['c'] },
  },
  {
    name: 'rolled back but not Ready still holds a slot',
    nodes: [released('a', 10 * S, { state: 'RolledBack', stateHash: T, ready: false }), node('b')],
    rollout: { maxUnavailable: 1, maxFailures: 1 },
    want: { failed: 1, unavailable: 1, release: [] },
  },
  {
    name: 'agent Failed holds its slot: its kubelet may be down before the node shows it',
    nodes: [released('a', 10 * S, { state: 'Failed', stateHash: T }), node('b')],
    rollout: { maxUnavailable: 1, maxFailures: 1 },
    want: { failed: 1, unavailable: 1, release: [] },
  },
  {
    name: 'timed out holds its slot: its agent may still be restarting the kubelet',
    nodes: [released('a', 301 * S), node('b')],
    rollout: { maxUnavailable: 1, maxFailures: 1 },
    want: { failed: 1, timedOut: ['a'], unavailable: 1, release: [] },
  },
  {
    name: 'failures within maxFailures and every other node Updated: done, though not complete',
    nodes: [released('a', 10 * S, { state: 'RolledBack', stateHash: T }), node('b', { appliedHash: T }), node('c', { appliedHash: T })],
    rollout: { maxFailures: 1 },
    want: { failed: 1, updated: 2, complete: false, done: true, halted: false, release: [] },
  },
  {
    name: 'a timed-out node within maxFailures and the rest Updated: done',
    nodes: [released('a', 400 * S), node('b', { appliedHash: T })],
    rollout: { maxFailures: 1 },
    want: { failed: 1, timedOut: ['a'], done: true, complete: false },
  },
  {
    name: 'failures beyond maxFailures are never done: halted',
    nodes: [released('a', 10 * S, { state: 'RolledBack', stateHash: T }), node('b', { appliedHash: T })],
    want: { halted: true, done: false },
  },
  {
    name: 'pending nodes left: not done',
    nodes: [released('a', 10 * S, { state: 'RolledBack', stateHash: T }), node('b')],
    rollout: { maxFailures: 1 },
    want: { done: false },
  },
  {
    name: 'every node Updated: complete and done',
    nodes: [node('a', { appliedHash: T })],
    want: { complete: true, done: true },
  },
  {
    name: 'paused is never done, even with nothing left',
    nodes: [node('a', { appliedHash: T })],
    rollout: { paused: true },
    want: { complete: true, done: false },
  },
  {
    name: 'borrowed slots (nodes handed to another policy mid-restart) count against maxUnavailable',
    nodes: three,
    borrowed: 1,
    rollout: { maxUnavailable: 2 },
    want: { unavailable: 1, releaseCount: 1 },
  },
  {
    name: 'rolled back counts as failed',
    nodes: [released('a', 10 * S, { state: 'RolledBack', stateHash: T }), node('b')],
    want: { failed: 1, halted: true, release: [] },
  },
  {
    name: 'failure for an older hash is not a failure for T',
    nodes: [node('a', { state: 'Failed', stateHash: OLD })],
    want: { failed: 0, phases: { a: 'Pending' }, release: ['a'] },
  },
  {
    name: 'maxFailures 1 tolerates one',
    nodes: [released('a', 10 * S, { state: 'Failed', stateHash: T }), node('b'), node('c')],
    rollout: { maxUnavailable: 2, maxFailures: 1 },
    want: { failed: 1, halted: false, unavailable: 1, releaseCount: 1 },
  },
  {
    name: 'maxFailures 1 halts at two',
    nodes: [
      released('a', 10 * S, { state: 'Failed', stateHash: T }),
      released('b', 10 * S, { state: 'RolledBack', stateHash: T }),
      node('c'),
    ],
    rollout: { maxUnavailable: 5, maxFailures: 1 },
    want: { failed: 2, halted: true, release: [] },
  },
  {
    name: 'paused releases nothing',
    nodes: three,
    rollout: { paused: true, maxUnavailable: 3 },
    want: { paused: true, release: [], pending: 3 },
  },
  {
    name: 'timed-out node counts as failed',
    nodes: [released('a', 301 * S), node('b')],
    want: { timedOut: ['a'], failed: 1, inProgress: 0, halted: true, release: [], phases: { a: 'Failed', b: 'Pending' } },
  },
  {
    name: 'timeout is inclusive at the deadline',
    nodes: [released('a', 300 * S)],
    rollout: { maxFailures: 1 },
    want: { timedOut: ['a'], failed: 1, halted: false },
  },
  {
    name: 'released without a desired time never times out',
    nodes: [node('a', { desiredHash: T })],
    want: { phases: { a: 'InProgress' }, timedOut: [] },
  },
  {
    name: 'percent maxUnavailable',
    nodes: Array.from({ length: 10 }, (_, i) => node(`n${i}`)),
    rollout: { maxUnavailable: '25%' },
    want: { maxUnavailable: 2, releaseCount: 2 },
  },
  {
    name: 'percent maxUnavailable is at least 1',
    nodes: three,
    rollout: { maxUnavailable: '10%' },
    want: { maxUnavailable: 1, releaseCount: 1 },
  },
  {
    name: 'removal targets REMOVED_HASH like any other hash',
    nodes: [node('a', { targetHash: REMOVED_HASH, appliedHash: REMOVED_HASH }), node('b', { targetHash: REMOVED_HASH })],
    want: { phases: { a: 'Updated', b: 'Pending' }, release: ['b'] },
  },
  {
    name: 'requeue is the earliest of soak end and timeout',
    nodes: [applied('a', 25 * S), released('b', 298 * S)],
    rollout: { maxUnavailable: 3 },
    want: { requeueAfterMs: 2 * S },
  },
  {
    name: 'nothing time-bound: no requeue',
    nodes: three,
    want: { requeueAfterMs: undefined },
  },
  {
    name: 'empty input is complete',
    nodes: [],
    want: { complete: true, release: [], maxUnavailable: 1 },
  },
  // Drift: the agent reports Drifted for T (or /configz disagrees with its Applied report).
  {
    name: 'drifted: released again before any Pending node, holding no slot until then',
    nodes: [applied('a', 600 * S, { state: 'Drifted' }), node('b'), node('c')],
    rollout: { maxUnavailable: 1 },
    want: { phases: { a: 'Drifted', b: 'Pending', c: 'Pending' }, drifted: 1, unavailable: 0, release: ['a'], complete: false, done: false },
  },
  {
    name: 'drifted, drift: Report: never released, and the rollout is done',
    nodes: [applied('a', 600 * S, { state: 'Drifted' }), applied('b', 600 * S)],
    rollout: { drift: 'Report' },
    want: { phases: { a: 'Drifted', b: 'Updated' }, release: [], done: true, complete: false },
  },
  {
    name: 'drifted while paused: not released',
    nodes: [applied('a', 600 * S, { state: 'Drifted' })],
    rollout: { paused: true },
    want: { phases: { a: 'Drifted' }, release: [], done: false },
  },
  {
    name: 'drifted and not Ready: holds a slot, not released',
    nodes: [applied('a', 600 * S, { state: 'Drifted', ready: false }), node('b')],
    rollout: { maxUnavailable: 1 },
    want: { phases: { a: 'Drifted', b: 'Pending' }, unavailable: 1, release: [] },
  },
  {
    name: 'drifted nodes share maxUnavailable with the Pending ones',
    nodes: [applied('a', 600 * S, { state: 'Drifted' }), applied('b', 600 * S, { state: 'Drifted' }), node('c'), released('d')],
    rollout: { maxUnavailable: 2 },
    want: { unavailable: 1, releaseCount: 1, drifted: 2 },
  },
  {
    name: 'a repair released for the drift report: in progress, holding its slot, with a timeout',
    nodes: [applied('a', 600 * S, { state: 'Drifted', desiredTimeMs: NOW - 10 * S, repairOfMs: NOW - 600 * S }), node('b')],
    rollout: { maxUnavailable: 1 },
    want: { phases: { a: 'InProgress', b: 'Pending' }, unavailable: 1, release: [], requeueAfterMs: 290 * S },
  },
  {
    name: 'a repair token of an older report: drifted again, released again',
    nodes: [applied('a', 60 * S, { state: 'Drifted', repairOfMs: NOW - 600 * S })],
    want: { phases: { a: 'Drifted' }, release: ['a'] },
  },
  {
    name: 'a repair not answered within nodeTimeoutSeconds: failed',
    nodes: [applied('a', 600 * S, { state: 'Drifted', desiredTimeMs: NOW - 301 * S, repairOfMs: NOW - 600 * S })],
    want: { phases: { a: 'Failed' }, timedOut: ['a'], failed: 1 },
  },
  {
    name: 'a repair that rolled back: failed, not released again',
    nodes: [applied('a', 5 * S, { state: 'RolledBack', repairOfMs: NOW - 600 * S })],
    rollout: { maxFailures: 1 },
    want: { phases: { a: 'Failed' }, release: [], failed: 1 },
  },
  {
    name: '/configz disagreeing with an Applied report: drifted',
    nodes: [applied('a', 600 * S, { configzDrift: '/configz tracing.samplingRatePerMillion is 0, want 1' })],
    want: { phases: { a: 'Drifted' }, release: ['a'] },
  },
  {
    name: 'drift of an older hash is not drift for T: the node is Pending for T',
    nodes: [node('a', { desiredHash: OLD, desiredTimeMs: NOW - 600 * S, state: 'Drifted', stateHash: OLD, appliedHash: OLD })],
    want: { phases: { a: 'Pending' }, release: ['a'] },
  },
  {
    name: 'a drop-in back on a node whose target is its removal: drifted, released for removal',
    nodes: [node('a', { targetHash: REMOVED_HASH, appliedHash: REMOVED_HASH, state: 'Drifted', stateHash: REMOVED_HASH, stateTimeMs: NOW - S })],
    want: { phases: { a: 'Drifted' }, release: ['a'] },
  },
];

describe('planRollout', () => {
  for (const c of cases) {
    it(c.name, () => {
      const plan = planRollout({ nodes: c.nodes, rollout: rollout(c.rollout), now: NOW, ...(c.borrowed ? { borrowed: c.borrowed } : {}) });
      const { phases, releaseCount, ...rest } = c.want;
      for (const [k, v] of Object.entries(rest)) {
        assert.deepEqual(plan[k as keyof Plan], v, k);
      }
      if (phases) for (const [n, p] of Object.entries(phases)) assert.equal(plan.phases[n], p, `phase of ${n}`);
      if (releaseCount !== undefined) assert.equal(plan.release.length, releaseCount, 'release count');
    });
  }

  it('stable order', () => {
    const nodes = Array.from({ length: 20 }, (_, i) => node(`n${String(i).padStart(2, '0')}`));
    const r = rollout({ maxUnavailable: 5 });
    const a = planRollout({ nodes, rollout: r, now: NOW }).release;
    const b = planRollout({ nodes: [...nodes].reverse(), rollout: r, now: NOW + 1 }).release;
    assert.deepEqual(a, b, 'input order and time do not change the order');
    assert.deepEqual(a, orderOf(nodes).slice(0, 5));
    assert.notDeepEqual(a, nodes.slice(0, 5).map((n) => n.name), 'not simply name order');
    // A different target hash shuffles the order (another config rolls out in another order).
    const other = planRollout({ nodes: nodes.map((n) => ({ ...n, targetHash: 'other' })), rollout: r, now: NOW }).release;
    assert.notDeepEqual(a, other);
  });

  it('a few free slots among many pending nodes: the first in order, as a full sort gives them', () => {
    const nodes = Array.from({ length: 400 }, (_, i) => node(`n${String(i).padStart(3, '0')}`));
    for (const k of [1, 2, 7, 49, 50, 51, 399, 400]) {
      const got = planRollout({ nodes, rollout: rollout({ maxUnavailable: k }), now: NOW }).release;
      assert.deepEqual(got, orderOf(nodes).slice(0, k), `${k} slots`);
    }
  });

  it('equal order keys fall back to name order', () => {
    const nodes = ['d', 'b', 'c', 'a', 'e'].map((n) => node(n, { orderKey: 'same' }));
    assert.deepEqual(planRollout({ nodes, rollout: rollout({ maxUnavailable: 2 }), now: NOW }).release, ['a', 'b']);
    assert.deepEqual(planRollout({ nodes, rollout: rollout({ maxUnavailable: 5 }), now: NOW }).release, ['a', 'b', 'c', 'd', 'e']);
  });

  it('a precomputed orderKey is the order (the caller keeps nodeOrderKey(uid, targetHash))', () => {
    const nodes = Array.from({ length: 30 }, (_, i) => node(`n${i}`));
    const keyed = nodes.map((n) => ({ ...n, orderKey: nodeOrderKey(n.uid, n.targetHash) }));
    const r = rollout({ maxUnavailable: 3 });
    assert.deepEqual(planRollout({ nodes: keyed, rollout: r, now: NOW }).release, planRollout({ nodes, rollout: r, now: NOW }).release);
    // The key is taken as given: reversed keys, reversed order.
    const reversed = nodes.map((n, i) => ({ ...n, orderKey: String(1000 - i).padStart(5, '0') }));
    assert.deepEqual(planRollout({ nodes: reversed, rollout: r, now: NOW }).release, ['n29', 'n28', 'n27']);
  });

  it('nodeOrderKey is sha256(uid:hash)', () => {
    assert.equal(nodeOrderKey('u', 'h'), createHash('sha256').update('u:h').digest('hex'));
    assert.match(nodeOrderKey('u', 'h'), /^[0-9a-f]{64}$/);
    assert.notEqual(nodeOrderKey('u', 'h'), nodeOrderKey('u', 'h2'));
  });
});

describe('resolveMaxUnavailable', () => {
  const table: [number | string, number, number][] = [
    [1, 10, 1],
    [3, 2, 3],
    ['50%', 10, 5],
    ['33%', 10, 3],
    ['100%', 7, 7],
    ['1%', 10, 1],
    ['0%', 10, 1],
    ['10%', 0, 1],
    ['4', 10, 4],
  ];
  for (const [v, total, want] of table) {
    it(`${JSON.stringify(v)} of ${total} is ${want}`, () => assert.equal(resolveMaxUnavailable(v, total), want));
  }
  it('rejects garbage naming the spec path', () => {
    assert.throws(() => resolveMaxUnavailable('abc', 3), /spec\.rollout\.maxUnavailable/);
    assert.throws(() => resolveMaxUnavailable(1.5, 3), /spec\.rollout\.maxUnavailable/);
  });
});


describe('never exceeds maxUnavailable (property test over random inputs with a seeded PRNG)', () => {
  it('a single plan releases no more than the free slots, and only ready Pending nodes', () => {
    const rnd = prng(0x5eed);
    const pick = <V>(xs: readonly V[]): V => xs[Math.floor(rnd() * xs.length)] as V;
    for (let iter = 0; iter < 2000; iter++) {
      const nodes: PlanNode[] = [];
      const count = Math.floor(rnd() * 15);
      for (let i = 0; i < count; i++) {
        nodes.push({
          name: `n${i}`,
          uid: `u${iter}-${i}`,
          ready: rnd() < 0.85,
          targetHash: T,
          desiredHash: pick([undefined, T, OLD]),
          desiredTimeMs: pick([undefined, NOW - 500 * S, NOW - 10 * S]),
          state: pick([undefined, 'Applying', 'Applied', 'Failed', 'RolledBack'] as const),
          stateHash: pick([undefined, T, OLD]),
          stateTimeMs: pick([undefined, NOW - 100 * S, NOW - 5 * S]),
          appliedHash: pick([undefined, T, OLD]),
        });
      }
      const r = rollout({
        maxUnavailable: pick([1, 2, 3, '20%', '50%']),
        maxFailures: pick([0, 1, 3]),
        paused: rnd() < 0.1,
      });
      const plan = planRollout({ nodes, rollout: r, now: NOW });
      const ctx = JSON.stringify({ iter, r, plan });
      assert.ok(plan.release.length <= Math.max(0, plan.maxUnavailable - plan.unavailable), ctx);
      assert.equal(new Set(plan.release).size, plan.release.length, ctx);
      for (const name of plan.release) {
        const n = nodes.find((x) => x.name === name);
        assert.ok(n?.ready, ctx);
        assert.equal(plan.phases[name], 'Pending', ctx);
      }
      assert.equal(plan.updated + plan.failed + plan.inProgress + plan.soaking + plan.pending, nodes.length, ctx);
      if (plan.paused || plan.halted) assert.deepEqual(plan.release, [], ctx);
      if (plan.requeueAfterMs !== undefined) assert.ok(plan.requeueAfterMs >= 0, ctx);
    }
  });

  it('a simulated rollout with random agent progress never has more than maxUnavailable nodes out', () => {
    const rnd = prng(42);
    for (let run = 0; run < 100; run++) {
      const total = 1 + Math.floor(rnd() * 12);
      const r = rollout({ maxUnavailable: [1, 2, '30%'][run % 3] ?? 1, minReadySeconds: 5, nodeTimeoutSeconds: 60, maxFailures: 100 });
      let nodes = Array.from({ length: total }, (_, i) => node(`n${i}`, { uid: `r${run}-${i}` }));
      let now = NOW;
      for (let step = 0; step < 200; step++) {
        const plan = planRollout({ nodes, rollout: r, now });
        assert.ok(plan.unavailable <= plan.maxUnavailable, `run ${run} step ${step}: ${plan.unavailable} > ${plan.maxUnavailable}`);
        assert.ok(plan.unavailable + plan.release.length <= plan.maxUnavailable);
        if (plan.complete) break;
        const rel = new Set(plan.release);
        nodes = nodes.map((n) => {
          if (rel.has(n.name)) return { ...n, desiredHash: T, desiredTimeMs: now };
          if (plan.phases[n.name] !== 'InProgress') return n;
          const x = rnd();
          if (x < 0.5) return n; // agent still working
          if (x < 0.55) return { ...n, state: 'Failed', stateHash: T, stateTimeMs: now };
          return { ...n, appliedHash: T, state: 'Applied', stateHash: T, stateTimeMs: now };
        });
        now += Math.floor(rnd() * 4 * S);
      }
    }
  });
});
