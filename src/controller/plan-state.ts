// One policy's collect + plan, kept between reconciles and brought up to date from what changed:
// the nodes whose cached object is new, the nodes just released (the reconciler's expectations),
// the deadlines passed. A reconcile in a 5,000-node rollout then costs what changed, not the
// fleet: the rollout bench's profile had the walk over every node (collect -> toPlanNode ->
// planRollout) at half of the controller's CPU, once per reconcile, hundreds of times a rollout.
// The pure path stays the specification: each node is decided by the same functions (classify,
// holdsSlot, isCandidate, isRepair, inFlight), and the plan is made by the same assemblePlan from
// the same tally. test/controller/plan-state.test.ts checks this against collect + planRollout on
// random histories.
import { REMOVED_HASH } from '../api/annotations.js';
import type { NodeTracingPolicy, ResolvedRollout, UnsupportedNodeStatus } from '../api/types.js';
import { render } from '../render/render.js';
import { hasOurConfig, type Collected, type Target } from './collect.js';
import { ownerOf, toPlanNode, type CachedNode } from './nodes.js';
import type { Ownership } from './ownership.js';
import {
  assemblePlan, before, classify, firstInOrder, holdsSlot, inFlight, isCandidate, isRepair, nodeOrderKey,
  type Classified, type NodePhase, type Plan, type PlanNode,
} from './planner.js';

/** What a policy's plan depends on besides its nodes and the time. */
export interface PlanContext {
  policy: NodeTracingPolicy;
  deleting: boolean;
  rollout: ResolvedRollout;
  own: Ownership;
}

/** The nodes as the controller's cache holds them, with its log of the names that changed
 *  (Informer.changeMark and changesSince): a reconcile then looks at those alone. */
export interface NodeFeed {
  list(): CachedNode[];
  get(name: string): CachedNode | undefined;
  changeMark(): number;
  changesSince(mark: number): readonly string[] | undefined;
}

/** The state's own arrays: read them before the next update(). */
export interface Planned {
  c: Collected;
  /** The plan's nodes (targets and removals, in no particular order), as the planner saw them. */
  planned: PlanNode[];
  plan: Plan;
}

/** One node as this policy sees it: what collect() makes of it, and its verdict. */
interface Entry {
  node: CachedNode;
  selected: boolean;
  /** Selected, but owned by this other policy. */
  conflict?: string;
  target?: Target;
  unsupported?: UnsupportedNodeStatus;
  /** Carries our configuration and nobody else owns it: ours to take off. */
  removal: boolean;
  /** Carries our configuration, another policy owns it, and our last release to it is still in
   *  flight: it holds one of our slots (collect's `borrowed`). */
  lent: boolean;
  /** A target or removal: what the planner reads (expectations overlaid), and its verdict. */
  view?: PlanNode;
  cls?: Classified;
  /** When this entry changes by time alone (a soak end, a timeout, a lent slot's timeout). */
  wakeAt?: number;
}

/** A list kept by name: set and delete in O(1) (the last element fills a deleted slot), read as
 *  an array without copying. The array is the state's own: valid until the next update. */
class NamedList<T> {
  readonly items: T[] = [];
  private readonly names: string[] = [];
  private readonly at = new Map<string, number>();

  get size(): number {
    return this.items.length;
  }

  set(name: string, v: T): void {
    const i = this.at.get(name);
    if (i !== undefined) {
      this.items[i] = v;
      return;
    }
    this.at.set(name, this.items.length);
    this.items.push(v);
    this.names.push(name);
  }

  delete(name: string): void {
    const i = this.at.get(name);
    if (i === undefined) return;
    const last = this.items.length - 1;
    if (i !== last) {
      this.items[i] = this.items[last] as T;
      const moved = this.names[last] as string;
      this.names[i] = moved;
      this.at.set(moved, i);
    }
    this.items.pop();
    this.names.pop();
    this.at.delete(name);
  }

  keys(): readonly string[] {
    return this.names;
  }

  get(name: string): T | undefined {
    const i = this.at.get(name);
    return i === undefined ? undefined : this.items[i];
  }

  clear(): void {
    this.items.length = 0;
    this.names.length = 0;
    this.at.clear();
  }
}

const NO_COUNTS = (): Record<NodePhase, number> => ({ Updated: 0, Soaking: 0, InProgress: 0, Failed: 0, Pending: 0, Drifted: 0 });

export class PlanState {
  private key: string | undefined;
  private own: Ownership | undefined;
  private lost = new Set<string>();
  /** The context's rollout settings (part of its key: constant until the next restart). */
  private rollout: ResolvedRollout | undefined;
  private renders = new Map<string, ReturnType<typeof render>>();
  private readonly entries = new Map<string, Entry>();
  /** The cache's list at the last update from a list: an element that is the same object is
   *  unchanged. */
  private last: CachedNode[] = [];
  /** The feed of the last update from a feed, and its mark then. */
  private feed: NodeFeed | undefined;
  private mark: number | undefined;
  /** Nodes to decide again although their cached object is the same (released since). */
  private readonly dirty = new Set<string>();

  private selected = 0;
  private unsupported = 0;
  private borrowed = 0;
  /** Slots held by planned nodes (borrowed apart). */
  private held = 0;
  private counts = NO_COUNTS();
  private readonly targets = new NamedList<Target>();
  private readonly removals = new Map<string, CachedNode>();
  /** What the planner reads of the targets and removals. */
  private readonly views = new NamedList<PlanNode>();
  private readonly unsupportedNodes = new Map<string, UnsupportedNodeStatus>();
  private readonly conflicts = new Map<string, string>();
  private readonly candidates = new Set<string>();
  private readonly repairs = new Set<string>();
  private readonly timedOut = new Set<string>();
  /** Entries with a wakeAt. */
  private readonly timed = new Set<string>();

  /** Release order of the planned nodes (orderKey, then name), made again when they change. */
  private readonly orderKeys = new Map<string, string>();
  private order: string[] = [];
  private posOf = new Map<string, number>();
  private orderStale = true;
  /** No candidate sits before this position of `order`. */
  private cursor = 0;

  /** A release was written to this node: decide it again (the expectation overlays it). */
  touch(node: string): void {
    if (this.entries.has(node)) this.dirty.add(node);
  }

  /** The collect and the plan at `now`, from the nodes that changed since the last call: those
   *  the feed names, or those of the list that are not the same objects as last time. */
  update(ctx: PlanContext, nodes: CachedNode[] | NodeFeed, now: number, overlay: (n: PlanNode) => PlanNode): Planned {
    const key = contextKey(ctx);
    if (key !== this.key || ctx.own !== this.own) this.restart(key, ctx);
    const refresh = (n: CachedNode): void => this.refresh(ctx, n, now, overlay);
    if (Array.isArray(nodes)) {
      this.mark = undefined;
      this.walk(nodes, refresh);
    } else this.follow(nodes, refresh);
    // Released since, their cached object unchanged (refresh takes each out of `dirty`).
    for (const name of [...this.dirty]) {
      const e = this.entries.get(name);
      if (e) refresh(e.node);
    }
    this.dirty.clear();
    const due: CachedNode[] = [];
    for (const name of this.timed) {
      const e = this.entries.get(name);
      if (e?.wakeAt !== undefined && now >= e.wakeAt) due.push(e.node);
    }
    for (const n of due) refresh(n);
    return this.result(ctx.rollout, now);
  }

  private restart(key: string, ctx: PlanContext): void {
    this.key = key;
    this.own = ctx.own;
    this.rollout = ctx.rollout;
    this.lost = new Set(ctx.own.lost.get(ctx.policy.metadata.name ?? '') ?? []);
    this.renders = new Map();
    this.entries.clear();
    this.last = [];
    this.mark = undefined;
    this.dirty.clear();
    this.selected = this.unsupported = this.borrowed = this.held = 0;
    this.counts = NO_COUNTS();
    for (const m of [this.targets, this.views, this.removals, this.unsupportedNodes, this.conflicts, this.orderKeys]) m.clear();
    for (const s of [this.candidates, this.repairs, this.timedOut, this.timed]) s.clear();
    this.orderStale = true;
  }

  /** Decides again every node whose cached object is new, and forgets the nodes gone. The list
   *  keeps its order between calls (the cache's insertion order), so an unchanged node is found
   *  at its index without a lookup. */
  private walk(nodes: CachedNode[], refresh: (n: CachedNode) => void): void {
    let reshaped = nodes.length !== this.last.length;
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i] as CachedNode;
      const was = this.last[i];
      if (n === was) continue;
      if (was?.name !== n.name) reshaped = true;
      if (this.entries.get(n.name)?.node !== n) refresh(n);
    }
    if (reshaped) {
      const names = new Set(nodes.map((n) => n.name));
      for (const [name, e] of [...this.entries]) if (!names.has(name)) this.forget(name, e);
    }
    this.last = nodes;
  }

  /** Decides again the nodes the feed says changed since the last update, or walks its list when
   *  there was none or its log does not reach back that far. */
  private follow(feed: NodeFeed, refresh: (n: CachedNode) => void): void {
    const names = this.mark === undefined || feed !== this.feed ? undefined : feed.changesSince(this.mark);
    this.feed = feed;
    this.mark = feed.changeMark();
    if (names === undefined) {
      this.walk(feed.list(), refresh);
      return;
    }
    // The list walked last no longer describes the cache: a later walk compares every node.
    this.last = [];
    for (const name of names) {
      const n = feed.get(name);
      const e = this.entries.get(name);
      if (n === undefined) {
        if (e) this.forget(name, e);
      } else if (e?.node !== n) refresh(n);
    }
  }

  private forget(name: string, e: Entry): void {
    this.account(e, -1);
    this.entries.delete(name);
    this.syncOrder(name, undefined);
    this.dirty.delete(name);
  }

  private refresh(ctx: PlanContext, n: CachedNode, now: number, overlay: (p: PlanNode) => PlanNode): void {
    // Decided now: a touch of it is answered too.
    this.dirty.delete(n.name);
    const old = this.entries.get(n.name);
    if (old) this.account(old, -1);
    const e = this.decide(ctx, n, now, overlay);
    this.entries.set(n.name, e);
    this.account(e, 1);
    this.syncOrder(n.name, e.view);
  }

  /** What collect() makes of one node, and the planner's verdict on it. */
  private decide(ctx: PlanContext, n: CachedNode, now: number, overlay: (p: PlanNode) => PlanNode): Entry {
    const name = ctx.policy.metadata.name ?? '';
    const owner = ctx.own.owner.get(n.name);
    const isLost = this.lost.has(n.name);
    const e: Entry = { node: n, selected: !ctx.deleting && (owner === name || isLost), removal: false, lent: false };
    if (!ctx.deleting && isLost && owner !== undefined) e.conflict = owner;
    if (!ctx.deleting && owner === name) {
      const r = this.renderFor(ctx, n.kubeletVersion);
      if (r.supported) {
        e.target = { node: n, hash: r.hash, config: r.config };
        this.plan(e, overlay(toPlanNode(n, r.hash)), ctx.rollout, now);
        return e;
      }
      e.unsupported = { node: n.name, kubeletVersion: n.kubeletVersion, message: r.reason };
    }
    if (ownerOf(n) !== name || !hasOurConfig(n)) return e;
    if (owner === undefined || owner === name) {
      e.removal = true;
      this.plan(e, overlay(toPlanNode(n, REMOVED_HASH)), ctx.rollout, now);
      return e;
    }
    const p = toPlanNode(n, REMOVED_HASH);
    e.lent = inFlight(p, ctx.rollout, now);
    if (e.lent && p.desiredTimeMs !== undefined) e.wakeAt = p.desiredTimeMs + ctx.rollout.nodeTimeoutSeconds * 1000;
    return e;
  }

  private plan(e: Entry, view: PlanNode, rollout: ResolvedRollout, now: number): void {
    e.view = view;
    e.cls = classify(view, rollout, now);
    if (e.cls.deadline !== undefined) e.wakeAt = e.cls.deadline;
  }

  private renderFor(ctx: PlanContext, version: string): ReturnType<typeof render> {
    let r = this.renders.get(version);
    if (!r) this.renders.set(version, (r = render(ctx.policy.spec, version)));
    return r;
  }

  /** Adds (sign 1) or takes back (-1) what one entry contributes to the tally. */
  private account(e: Entry, sign: 1 | -1): void {
    const name = e.node.name;
    const keep = <V>(m: Map<string, V> | NamedList<V> | Set<string>, v: V): void => {
      if (sign < 0) m.delete(name);
      else if (m instanceof Set) m.add(name);
      else m.set(name, v);
    };
    if (e.selected) this.selected += sign;
    if (e.conflict !== undefined) keep(this.conflicts, e.conflict);
    if (e.unsupported) {
      this.unsupported += sign;
      keep(this.unsupportedNodes, e.unsupported);
    }
    if (e.target) keep(this.targets, e.target);
    if (e.removal) keep(this.removals, e.node);
    if (e.lent) this.borrowed += sign;
    if (e.wakeAt !== undefined) keep(this.timed, undefined);
    const { view, cls } = e;
    if (!view || !cls) return;
    keep(this.views, view);
    this.counts[cls.phase] += sign;
    if (cls.timedOut) keep(this.timedOut, undefined);
    if (holdsSlot(cls) || !view.ready) this.held += sign;
    if (this.rollout && isRepair(cls, view, this.rollout)) keep(this.repairs, undefined);
    if (isCandidate(cls, view)) {
      keep(this.candidates, undefined);
      const pos = this.posOf.get(name);
      if (sign > 0 && pos !== undefined && pos < this.cursor) this.cursor = pos;
    }
  }

  /** Keeps the release order's membership in step with the planned nodes. */
  private syncOrder(name: string, view: PlanNode | undefined): void {
    const key = view ? (view.orderKey ?? nodeOrderKey(view.uid, view.targetHash)) : undefined;
    if (this.orderKeys.get(name) === key) return;
    if (key === undefined) this.orderKeys.delete(name);
    else this.orderKeys.set(name, key);
    this.orderStale = true;
  }

  /** The first k Ready Pending nodes in release order: from a cursor that only moves back when a
   *  node before it becomes a candidate again, so a rollout scans its order about once. */
  private firstCandidates(k: number): string[] {
    if (k <= 0 || this.candidates.size === 0) return [];
    if (this.orderStale) {
      const keyed = [...this.orderKeys].map(([name, key]) => ({ name, key }));
      keyed.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
      this.order = keyed.map((x) => x.name);
      this.posOf = new Map(this.order.map((name, i) => [name, i]));
      this.orderStale = false;
      this.cursor = 0;
    }
    while (this.cursor < this.order.length && !this.candidates.has(this.order[this.cursor] as string)) this.cursor++;
    const out: string[] = [];
    for (let i = this.cursor; i < this.order.length && out.length < k; i++) {
      const name = this.order[i] as string;
      if (this.candidates.has(name)) out.push(name);
    }
    return out;
  }

  private result(rollout: ResolvedRollout, now: number): Planned {
    let earliest: number | undefined;
    for (const name of this.timed) {
      const d = this.entries.get(name)?.cls?.deadline;
      if (d !== undefined && (earliest === undefined || d < earliest)) earliest = d;
    }
    const plan = assemblePlan({
      counts: { ...this.counts },
      total: this.views.size,
      unavailable: this.held + this.borrowed,
      timedOut: [...this.timedOut],
      earliest,
      firstRepairs: (k) => firstInOrder([...this.repairs].map((name) => this.entries.get(name)?.view as PlanNode), k),
      firstCandidates: (k) => this.firstCandidates(k),
    }, rollout, now, () => {
      const phases: Record<string, NodePhase> = {};
      for (const name of this.views.keys()) phases[name] = (this.entries.get(name)?.cls as Classified).phase;
      return phases;
    });
    const c: Collected = {
      targets: this.targets.items,
      target: (name) => this.targets.get(name),
      removals: [...this.removals.values()],
      unsupported: this.unsupported,
      unsupportedNodes: [...this.unsupportedNodes.values()],
      selected: this.selected,
      conflicts: [...this.conflicts].map(([node, owner]) => ({ node, owner })),
      borrowed: this.borrowed,
    };
    return { c, planned: this.views.items, plan };
  }
}

/** Everything besides the nodes that a node's verdict depends on. */
function contextKey(ctx: PlanContext): string {
  return JSON.stringify({ uid: ctx.policy.metadata.uid, name: ctx.policy.metadata.name, spec: ctx.policy.spec, deleting: ctx.deleting, rollout: ctx.rollout });
}
