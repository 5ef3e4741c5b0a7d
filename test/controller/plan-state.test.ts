// The incremental plan (PlanState) against its specification, the pure path the reconciler took
// on every reconcile before: collect -> toPlanNode -> overlay -> planRollout. Random histories of
// what a cluster does between two reconciles (hand-offs written, nodes NotReady, relabelled,
// added, deleted, time passing over soak ends and timeouts, releases expected, the spec, the
// rollout settings or a deletion changing) must give the same collect, plan nodes and plan after
// every step. A seed that fails replays exactly.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  A_APPLIED_HASH, A_DESIRED_HASH, A_DESIRED_TIME, A_MESSAGE, A_POLICY, A_REPAIR, A_STATE, A_STATE_HASH, A_STATE_TIME,
  AGENT_STATES, REMOVED_HASH,
} from '../../src/api/annotations.js';
import { resolveRollout, type NodeTracingPolicy, type NodeTracingPolicySpec, type ResolvedRollout } from '../../src/api/types.js';
import { collect, type Collected } from '../../src/controller/collect.js';
import { toPlanNode, type CachedNode } from '../../src/controller/nodes.js';
import { assignOwners, type Ownership } from '../../src/controller/ownership.js';
import { type NodeFeed, PlanState } from '../../src/controller/plan-state.js';
import { planRollout, type Plan, type PlanNode } from '../../src/controller/planner.js';
import { render } from '../../src/render/render.js';
import { prng } from '../helpers/prng.js';

const VERSIONS = ['v1.24.9', 'v1.27.16', 'v1.31.6', 'v1.33.1', 'v1.35.2'];
const S = 1000;

function policy(name: string, priority: number, selector: Record<string, string>, rollout: NodeTracingPolicySpec['rollout'], rate = 10_000): NodeTracingPolicy {
  return {
    apiVersion: 'nodetracing.dev/v1alpha1', kind: 'NodeTracingPolicy',
    metadata: { name, uid: `uid-${name}`, generation: 1 },
    spec: { priority, nodeSelector: { matchLabels: selector }, tracing: { endpoint: 'otel.observability.svc:4317', samplingRatePerMillion: rate }, ...(rollout ? { rollout } : {}) },
  };
}

interface World {
  rnd: () => number;
  now: number;
  nodes: CachedNode[];
  a: NodeTracingPolicy;
  b: NodeTracingPolicy | undefined;
  deleting: boolean;
  expected: Map<string, { hash: string; timeMs: number }>;
  own: Ownership;
}

const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;

function hashOf(p: NodeTracingPolicy, version: string): string {
  const r = render(p.spec, version);
  return r.supported ? r.hash : 'unsupported';
}

/** A hand-off as the controller and agents leave it, valid or half-done, at random. */
function handOff(w: World, version: string): Record<string, string> {
  const { rnd } = w;
  if (rnd() < 0.25) return {};
  // Mostly recent (inside soak and timeout windows), sometimes long ago.
  const at = (): string => new Date(w.now - Math.floor(rnd() ** 3 * 900 * S)).toISOString();
  const hashes = [hashOf(w.a, version), REMOVED_HASH, 'old-hash'];
  const T = hashes[0] as string;
  // Half of them as a rollout leaves them: released to T, applied, or not yet touched.
  if (rnd() < 0.5) {
    const t = at();
    const stage = pick(rnd, ['released', 'applied', 'applied', 'none'] as const);
    if (stage === 'none') return { [A_POLICY]: 'a' };
    const released = { [A_POLICY]: 'a', [A_DESIRED_HASH]: T, [A_DESIRED_TIME]: t };
    return stage === 'released' ? released : { ...released, [A_STATE]: 'Applied', [A_STATE_HASH]: T, [A_APPLIED_HASH]: T, [A_STATE_TIME]: t };
  }
  const ours: Record<string, string> = {};
  const owner = pick(rnd, ['a', 'a', 'b', undefined]);
  if (owner !== undefined) ours[A_POLICY] = owner;
  if (rnd() < 0.8) {
    ours[A_DESIRED_HASH] = pick(rnd, hashes);
    ours[A_DESIRED_TIME] = at();
  }
  if (rnd() < 0.7) {
    ours[A_STATE] = pick(rnd, AGENT_STATES);
    ours[A_STATE_HASH] = pick(rnd, [...hashes, ours[A_DESIRED_HASH] ?? 'x']);
    ours[A_STATE_TIME] = at();
    if (rnd() < 0.3) ours[A_MESSAGE] = 'kubelet said no';
    if (rnd() < 0.3) ours[A_REPAIR] = rnd() < 0.7 ? ours[A_STATE_TIME] : at();
  }
  if (rnd() < 0.6) ours[A_APPLIED_HASH] = pick(rnd, hashes);
  return ours;
}

function newNode(w: World, i: number): CachedNode {
  const version = pick(w.rnd, VERSIONS);
  return {
    name: `node-${String(i).padStart(3, '0')}`,
    uid: `u-${i}-${Math.floor(w.rnd() * 1e6)}`,
    labels: { ...(w.rnd() < 0.8 ? { team: 'x' } : {}), ...(w.rnd() < 0.3 ? { zone: 'z' } : {}) },
    ours: handOff(w, version),
    kubeletVersion: version,
    ready: w.rnd() < 0.85,
  };
}

function reown(w: World): void {
  w.own = assignOwners([w.a, ...(w.b ? [w.b] : [])], w.nodes);
}

/** One thing the cluster does between two reconciles. Returns the nodes to touch (released). */
function step(w: World, nextId: () => number): string[] {
  const { rnd } = w;
  const r = rnd();
  const at = Math.floor(rnd() * w.nodes.length);
  const n = w.nodes[at];
  const replace = (m: CachedNode): void => void w.nodes.splice(at, 1, m);
  if (r < 0.35 && n) replace({ ...n, ours: handOff(w, n.kubeletVersion) });
  else if (r < 0.45 && n) replace({ ...n, ready: !n.ready });
  else if (r < 0.5 && n) {
    replace({ ...n, labels: rnd() < 0.5 ? { team: 'x' } : { zone: 'z' } });
    reown(w);
  } else if (r < 0.55) {
    w.nodes.push(newNode(w, nextId()));
    // The controller computes the owners again on a node added or deleted; kept as they were
    // half of the time here, so the list changes under the same ownership too.
    if (rnd() < 0.5) reown(w);
  } else if (r < 0.6 && n) {
    w.nodes.splice(at, 1);
    if (rnd() < 0.5) reown(w);
  } else if (r < 0.75) w.now += Math.floor(rnd() * 400 * S);
  else if (r < 0.85 && n) {
    if (w.expected.has(n.name) && rnd() < 0.4) w.expected.delete(n.name);
    else w.expected.set(n.name, { hash: pick(rnd, [hashOf(w.a, n.kubeletVersion), REMOVED_HASH]), timeMs: w.now });
    return [n.name];
  } else if (r < 0.9) {
    w.a = policy('a', 0, { team: 'x' }, { maxUnavailable: pick(rnd, [1, 2, '30%', '100%']), maxFailures: pick(rnd, [0, 3, 1000]), minReadySeconds: pick(rnd, [0, 60]), nodeTimeoutSeconds: pick(rnd, [120, 600]), paused: rnd() < 0.15, drift: pick(rnd, ['Repair', 'Report'] as const) }, pick(rnd, [10_000, 500]));
    reown(w);
  } else if (r < 0.93) {
    w.b = w.b ? undefined : policy('b', pick(rnd, [0, 5]), { zone: 'z' }, undefined);
    reown(w);
  } else if (r < 0.95) {
    w.deleting = !w.deleting;
  } else if (n) {
    // A node replaced by another of the same name (deleted and re-registered: a new uid).
    replace({ ...newNode(w, 0), name: n.name });
  }
  return [];
}

function overlayOf(w: World): (n: PlanNode) => PlanNode {
  return (n) => {
    const e = w.expected.get(n.name);
    if (!e || n.desiredHash === e.hash) return n;
    return { ...n, desiredHash: e.hash, desiredTimeMs: e.timeMs, state: undefined, stateHash: undefined };
  };
}

/** The specification: what the reconciler computed on every reconcile before PlanState. */
function reference(w: World, rollout: ResolvedRollout): { c: Collected; planned: PlanNode[]; plan: Plan } {
  const c = collect(w.a, w.nodes, w.own, w.deleting, rollout, w.now);
  const overlay = overlayOf(w);
  const planned = [...c.targets.map((t) => overlay(toPlanNode(t.node, t.hash))), ...c.removals.map((n) => overlay(toPlanNode(n, REMOVED_HASH)))];
  return { c, planned, plan: planRollout({ nodes: planned, rollout, now: w.now, borrowed: c.borrowed }) };
}

const byName = <T extends { node?: string; name?: string }>(xs: T[]): T[] => [...xs].sort((x, y) => ((x.node ?? x.name ?? '') < (y.node ?? y.name ?? '') ? -1 : 1));

function same(got: ReturnType<typeof reference>, want: ReturnType<typeof reference>, where: string): void {
  const { plan: gp, c: gc } = got;
  const { plan: wp, c: wc } = want;
  assert.deepEqual(gp.release, wp.release, `${where}: release`);
  assert.deepEqual({ ...gp, release: [], timedOut: [...gp.timedOut].sort(), phases: { ...gp.phases } }, { ...wp, release: [], timedOut: [...wp.timedOut].sort(), phases: { ...wp.phases } }, `${where}: plan`);
  assert.deepEqual(gc.targets.map((t) => `${t.node.name}=${t.hash}`).sort(), wc.targets.map((t) => `${t.node.name}=${t.hash}`).sort(), `${where}: targets`);
  assert.deepEqual(gc.removals.map((n) => n.name).sort(), wc.removals.map((n) => n.name).sort(), `${where}: removals`);
  assert.deepEqual(
    { unsupported: gc.unsupported, selected: gc.selected, borrowed: gc.borrowed, unsupportedNodes: byName(gc.unsupportedNodes), conflicts: byName(gc.conflicts) },
    { unsupported: wc.unsupported, selected: wc.selected, borrowed: wc.borrowed, unsupportedNodes: byName(wc.unsupportedNodes), conflicts: byName(wc.conflicts) },
    `${where}: counts`,
  );
  assert.deepEqual(byName(got.planned), byName(want.planned), `${where}: plan nodes`);
}

/** The controller's node cache as PlanState reads it (NodeFeed): the informer logs the name of
 *  each object it adds, replaces or deletes. Here the cache is brought up to the world's nodes
 *  before each reconcile, logging what it changes; `forget` drops the log (as the informer's
 *  trimming does for a reader that fell behind). */
class Feed implements NodeFeed {
  private readonly cache = new Map<string, CachedNode>();
  private log: string[] = [];
  private from = 0;

  sync(nodes: readonly CachedNode[]): void {
    const names = new Set<string>();
    for (const n of nodes) {
      names.add(n.name);
      if (this.cache.get(n.name) !== n) {
        this.cache.set(n.name, n);
        this.log.push(n.name);
      }
    }
    for (const name of [...this.cache.keys()]) {
      if (names.has(name)) continue;
      this.cache.delete(name);
      this.log.push(name);
    }
  }

  forget(): void {
    this.from += this.log.length;
    this.log = [];
  }

  list(): CachedNode[] {
    return [...this.cache.values()];
  }

  get(name: string): CachedNode | undefined {
    return this.cache.get(name);
  }

  changeMark(): number {
    return this.from + this.log.length;
  }

  changesSince(mark: number): readonly string[] | undefined {
    return mark < this.from ? undefined : this.log.slice(mark - this.from);
  }
}

/** How each reconcile hands PlanState the nodes: the cache's list, its feed, or either at random
 *  (with the feed's log now and then dropped, or the feed replaced by a new cache). */
type Source = 'list' | 'feed' | 'mixed';

function history(seed: number, steps: number, source: Source = 'list'): void {
  const rnd = prng(seed);
  let id = 0;
  const w: World = {
    rnd, now: 1_800_000_000_000, nodes: [], deleting: false, expected: new Map(),
    a: policy('a', 0, { team: 'x' }, { maxUnavailable: 2, minReadySeconds: 60, nodeTimeoutSeconds: 600, maxFailures: 3 }),
    b: undefined, own: { owner: new Map(), lost: new Map() },
  };
  const count = 5 + Math.floor(rnd() * 30);
  for (let i = 0; i < count; i++) w.nodes.push(newNode(w, id++));
  reown(w);
  const state = new PlanState();
  let feed = new Feed();
  for (let s = 0; s < steps; s++) {
    // One to three changes between two reconciles (a node deleted and another added keeps the
    // list's length).
    const changes = s === 0 ? 0 : 1 + Math.floor(rnd() * 3);
    for (let k = 0; k < changes; k++) for (const t of step(w, () => id++)) state.touch(t);
    // As rolloutFor does: a deletion is never paused.
    const rollout = { ...resolveRollout(w.a.spec), ...(w.deleting ? { paused: false } : {}) };
    if (source === 'mixed' && rnd() < 0.1) feed = new Feed();
    if (source === 'mixed' && rnd() < 0.1) feed.forget();
    feed.sync(w.nodes);
    const nodes = source === 'list' || (source === 'mixed' && rnd() < 0.3) ? [...w.nodes] : feed;
    const got = state.update({ policy: w.a, deleting: w.deleting, rollout, own: w.own }, nodes, w.now, overlayOf(w));
    same(got, reference(w, rollout), `seed ${seed}, step ${s}`);
  }
}

describe('PlanState: the plan kept between reconciles equals the plan made from scratch', () => {
  it('on 200 random histories of 60 steps', () => {
    for (let seed = 1; seed <= 200; seed++) history(seed, 60);
  });

  it('on 200 random histories read from the cache\'s change log', () => {
    for (let seed = 1; seed <= 200; seed++) history(seed, 60, 'feed');
  });

  it('on 200 random histories read from the list and the log by turns, the log sometimes lost or its cache replaced', () => {
    for (let seed = 1; seed <= 200; seed++) history(seed, 60, 'mixed');
  });

  it('a node whose cached object did not change is not decided again (its view is the same object)', () => {
    const rnd = prng(7);
    const w: World = { rnd, now: 1_800_000_000_000, nodes: [], deleting: false, expected: new Map(), a: policy('a', 0, { team: 'x' }, { maxUnavailable: 1 }), b: undefined, own: { owner: new Map(), lost: new Map() } };
    for (let i = 0; i < 10; i++) w.nodes.push({ ...newNode(w, i), labels: { team: 'x' }, ours: {}, kubeletVersion: 'v1.33.1', ready: true });
    reown(w);
    const state = new PlanState();
    const ctx = { policy: w.a, deleting: false, rollout: resolveRollout(w.a.spec), own: w.own };
    const first = state.update(ctx, [...w.nodes], w.now, (n) => n);
    const firstViews = [...first.planned];
    assert.equal(first.plan.release.length, 1);
    const second = state.update(ctx, [...w.nodes], w.now, (n) => n);
    for (const p of second.planned) assert.equal(p, firstViews.find((q) => q.name === p.name));
    assert.deepEqual(second.plan.release, first.plan.release, 'nothing changed, the same release');
  });
});
