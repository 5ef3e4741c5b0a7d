// Pure: what `kto plan` shows. Policies read from files, put into the cluster as it is (Nodes and
// policies listed from the API server), and what the controller would then do: which nodes each
// targets, which it cannot, which another policy owns, the drop-in per kubelet version, the
// batches in the planner's own order, and what changes on the nodes. It decides nothing of its
// own: ownership, collect, render and the planner are the controller's.
import { REMOVED_HASH } from '../api/annotations.js';
import { decode } from '../api/handoff.js';
import { resolveRollout, type NodeTracingPolicy, type ResolvedRollout, type UnsupportedNodeStatus } from '../api/types.js';
import { collect, hasOurConfig } from '../controller/collect.js';
import { ownerOf, toPlanNode, type CachedNode } from '../controller/nodes.js';
import { assignOwners, whyOutranks, type Ownership } from '../controller/ownership.js';
import { planRollout, type PlanNode } from '../controller/planner.js';
import { canonicalJson } from '../render/hash.js';
import { intentHash, type KubeletTracingDropin } from '../render/render.js';
import { parseKubeletVersion } from '../render/version.js';
import type { ConflictRow } from './rollout-view.js';

/** Where a target node goes: already there, first configuration, another one replaced, or
 *  (rare) released already or failed for this very configuration. */
export type Change = 'unchanged' | 'new' | 'changed' | 'inProgress' | 'failed';

export interface TargetChange {
  node: string;
  kubeletVersion: string;
  /** The drop-in hash it would get. */
  hash: string;
  change: Change;
  /** What it carries now: the policy and the hash applied, if any. */
  now?: { policy?: string; appliedHash: string };
}

export interface DroppedNode {
  node: string;
  /** What it carries now from this policy, if anything. */
  appliedHash?: string;
  /** "drop-in removed", "handed to P (priority 10 > 0)", or why it became unsupported. */
  then: string;
}

export interface Dropin {
  kubeletVersion: string;
  hash: string;
  nodes: string[];
  config: KubeletTracingDropin;
}

export interface RolloutPlan {
  /** Resolved against the nodes the rollout touches (targets and removals), as the planner does. */
  maxUnavailable: number;
  paused: boolean;
  minReadySeconds: number;
  /** Releases in order: each a batch the planner would hand out at once. */
  batches: string[][];
  /** Nodes that would not be released: not Ready, or held back by failed nodes using up the slots. */
  waiting: string[];
}

export interface Estimate {
  batches: number;
  restartSeconds: number;
  minReadySeconds: number;
  /** batches x (restartSeconds + minReadySeconds). */
  seconds: number;
}

export interface PolicyPlan {
  name: string;
  /** A policy of that name is in the cluster. */
  existing: boolean;
  /** The spec differs from the cluster's (defaults applied on both sides). */
  specChanged: boolean;
  configHash: string;
  counts: Record<Change, number> & { targets: number; unsupported: number; conflicts: number; dropped: number; taken: number };
  targets: TargetChange[];
  unsupported: UnsupportedNodeStatus[];
  conflicts: ConflictRow[];
  /** Nodes it owns now or whose drop-in is its own, that it would no longer configure. */
  dropped: DroppedNode[];
  /** Nodes it would take from another policy. */
  taken: { node: string; from: string; why: string }[];
  dropins: Dropin[];
  rollout: RolloutPlan;
  estimate: Estimate;
}

/** A policy of the cluster that the plan changes without being in it. */
export interface OtherPolicyEffect {
  policy: string;
  loses: { node: string; to: string }[];
  gains: { node: string; from: string }[];
}

export interface PlanReport {
  nodes: number;
  policies: PolicyPlan[];
  others: OtherPolicyEffect[];
}

export interface PlanInput {
  /** Valid policies from the files. */
  planned: NodeTracingPolicy[];
  /** The cluster's policies as they are. */
  cluster: NodeTracingPolicy[];
  nodes: CachedNode[];
  now: number;
  /** Time from release to the agent's Applied (a kubelet restart and its health check). */
  restartSeconds: number;
}

const nameOf = (p: NodeTracingPolicy): string => p.metadata.name ?? '';
const byNode = <T extends { node: string }>(a: T, b: T): number => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0);

/** The spec with every default applied, so a file that leaves out a default equals the stored object. */
function normalSpec(p: NodeTracingPolicy): string {
  const s = p.spec;
  return canonicalJson({ nodeSelector: s.nodeSelector ?? {}, tracing: s.tracing, featureGate: s.featureGate ?? 'Auto', priority: s.priority ?? 0, rollout: resolveRollout(s) });
}

export function planPolicies(input: PlanInput): PlanReport {
  const planned = new Map(input.planned.map((p) => [nameOf(p), p]));
  const after = [...input.cluster.filter((p) => !planned.has(nameOf(p))), ...input.planned];
  const ownBefore = assignOwners(input.cluster, input.nodes);
  const ownAfter = assignOwners(after, input.nodes);
  const policies = input.planned.map((p) => planOne(p, input, after, ownBefore, ownAfter));
  return { nodes: input.nodes.length, policies, others: otherEffects(planned, ownBefore, ownAfter, input.nodes) };
}

function planOne(policy: NodeTracingPolicy, input: PlanInput, after: NodeTracingPolicy[], before: Ownership, own: Ownership): PolicyPlan {
  const name = nameOf(policy);
  const existing = input.cluster.find((p) => nameOf(p) === name);
  const byName = new Map(after.map((p) => [nameOf(p), p]));
  const rollout = resolveRollout(policy.spec);
  const c = collect(policy, input.nodes, own, false, rollout, input.now);
  const planNodes = [...c.targets.map((t) => toPlanNode(t.node, t.hash)), ...c.removals.map((n) => toPlanNode(n, REMOVED_HASH))];
  const phases = planRollout({ nodes: planNodes, rollout, now: input.now, borrowed: c.borrowed }).phases;

  const targets: TargetChange[] = c.targets.map((t) => {
    const applied = decode(t.node.ours).appliedHash;
    const carries = applied !== undefined && applied !== '' && applied !== REMOVED_HASH;
    const phase = phases[t.node.name];
    const change: Change = phase === 'Updated' || phase === 'Soaking' ? 'unchanged' : phase === 'InProgress' ? 'inProgress' : phase === 'Failed' ? 'failed' : carries ? 'changed' : 'new';
    const owner = ownerOf(t.node);
    return { node: t.node.name, kubeletVersion: t.node.kubeletVersion, hash: t.hash, change, ...(carries ? { now: { ...(owner ? { policy: owner } : {}), appliedHash: applied } } : {}) };
  }).sort(byNode);

  const dropped = droppedNodes(policy, input.nodes, { targets: new Set(targets.map((t) => t.node)), unsupportedNodes: c.unsupportedNodes, before, own, byName });
  const taken = targets
    .map((t) => ({ node: t.node, from: before.owner.get(t.node) }))
    .filter((x): x is { node: string; from: string } => x.from !== undefined && x.from !== name)
    .map((x) => {
      const loser = byName.get(x.from) ?? input.cluster.find((p) => nameOf(p) === x.from);
      return { ...x, why: loser ? whyOutranks(policy, loser) : '' };
    });

  const conflicts = c.conflicts
    .map(({ node, owner }) => {
      const winner = byName.get(owner);
      return { node, ownedBy: owner, why: winner ? whyOutranks(winner, policy) : '' };
    })
    .sort(byNode);

  const sim = simulate(planNodes, rollout, input.now, c.borrowed);
  const count = (ch: Change) => targets.filter((t) => t.change === ch).length;
  return {
    name,
    existing: existing !== undefined,
    specChanged: existing === undefined || normalSpec(existing) !== normalSpec(policy),
    configHash: intentHash(policy.spec),
    counts: {
      targets: targets.length, unchanged: count('unchanged'), new: count('new'), changed: count('changed'), inProgress: count('inProgress'), failed: count('failed'),
      unsupported: c.unsupportedNodes.length, conflicts: conflicts.length, dropped: dropped.length, taken: taken.length,
    },
    targets,
    unsupported: [...c.unsupportedNodes].sort(byNode),
    conflicts,
    dropped,
    taken,
    dropins: dropinsByVersion(c.targets.map((t) => ({ node: t.node.name, kubeletVersion: t.node.kubeletVersion, hash: t.hash, config: t.config }))),
    rollout: sim,
    estimate: {
      batches: sim.batches.length,
      restartSeconds: input.restartSeconds,
      minReadySeconds: rollout.minReadySeconds,
      seconds: sim.batches.length * (input.restartSeconds + rollout.minReadySeconds),
    },
  };
}

/** Nodes the policy owns now, or whose drop-in is its own, that it would no longer configure,
 *  and what becomes of each. */
/** Where the nodes stand: the policy's targets now, its unsupported nodes, the ownership before
 *  and after the change, and every policy by name. */
interface Standing {
  targets: Set<string>;
  unsupportedNodes: UnsupportedNodeStatus[];
  before: Ownership;
  own: Ownership;
  byName: Map<string, NodeTracingPolicy>;
}

function droppedNodes(policy: NodeTracingPolicy, nodes: CachedNode[], { targets, unsupportedNodes, before, own, byName }: Standing): DroppedNode[] {
  const name = nameOf(policy);
  const unsupported = new Map(unsupportedNodes.map((u) => [u.node, u]));
  const lost = new Set(own.lost.get(name) ?? []);
  return nodes
    .filter((n) => !targets.has(n.name) && (before.owner.get(n.name) === name || (ownerOf(n) === name && hasOurConfig(n))))
    .map((n) => {
      const carried = ownerOf(n) === name ? decode(n.ours).appliedHash : undefined;
      const to = own.owner.get(n.name);
      const winner = to !== undefined ? byName.get(to) : undefined;
      const why = unsupported.get(n.name);
      const then = why ? `unsupported now: ${why.message}${carried ? '; drop-in removed' : ''}`
        : lost.has(n.name) && winner ? `handed to ${to} (${whyOutranks(winner, policy)})`
          : to !== undefined ? `no longer selected: handed to ${to}`
            : carried ? 'no longer selected: drop-in removed' : 'no longer selected';
      return { node: n.name, ...(carried && carried !== REMOVED_HASH ? { appliedHash: carried } : {}), then };
    })
    .sort(byNode);
}

/** The planner, run until it releases nothing more, every released node taken as verified at
 *  once: the batches in its stable order, and the nodes it would never release as things are. */
function simulate(nodes: PlanNode[], rollout: ResolvedRollout, now: number, borrowed: number): RolloutPlan {
  const r = { ...rollout, paused: false, minReadySeconds: 0 };
  const done = (n: PlanNode): PlanNode => ({ ...n, desiredHash: n.targetHash, appliedHash: n.targetHash, state: 'Applied', stateHash: n.targetHash, stateTimeMs: undefined, desiredTimeMs: now });
  let current = nodes;
  let held = borrowed;
  const batches: string[][] = [];
  for (;;) {
    const plan = planRollout({ nodes: current, rollout: r, now, borrowed: held });
    const maxUnavailable = plan.maxUnavailable;
    if (plan.release.length === 0) {
      const waiting = current.filter((n) => plan.phases[n.name] === 'Pending').map((n) => n.name).sort();
      return { maxUnavailable, paused: rollout.paused, minReadySeconds: rollout.minReadySeconds, batches, waiting };
    }
    batches.push(plan.release);
    const finished = new Set(plan.release);
    current = current.map((n) => (finished.has(n.name) || plan.phases[n.name] === 'InProgress' || plan.phases[n.name] === 'Soaking' ? done(n) : n));
    held = 0; // nodes handed on finish their restart with the first batch
  }
}

function versionOrder(a: string, b: string): number {
  const [va, vb] = [parseKubeletVersion(a), parseKubeletVersion(b)];
  if (va && vb) {
    for (const k of ['major', 'minor', 'patch'] as const) if (va[k] !== vb[k]) return va[k] - vb[k];
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function dropinsByVersion(targets: { node: string; kubeletVersion: string; hash: string; config: KubeletTracingDropin | null }[]): Dropin[] {
  const byVersion = new Map<string, Dropin>();
  for (const t of targets) {
    if (!t.config) continue;
    const d = byVersion.get(t.kubeletVersion);
    if (d) d.nodes.push(t.node);
    else byVersion.set(t.kubeletVersion, { kubeletVersion: t.kubeletVersion, hash: t.hash, nodes: [t.node], config: t.config });
  }
  return [...byVersion.values()].map((d) => ({ ...d, nodes: d.nodes.sort() })).sort((a, b) => versionOrder(a.kubeletVersion, b.kubeletVersion));
}

function otherEffects(planned: Map<string, NodeTracingPolicy>, before: Ownership, own: Ownership, nodes: CachedNode[]): OtherPolicyEffect[] {
  const effects = new Map<string, OtherPolicyEffect>();
  const effect = (policy: string) => {
    let e = effects.get(policy);
    if (!e) effects.set(policy, (e = { policy, loses: [], gains: [] }));
    return e;
  };
  for (const n of nodes) {
    const [b, a] = [before.owner.get(n.name), own.owner.get(n.name)];
    if (b === a) continue;
    if (b !== undefined && !planned.has(b)) effect(b).loses.push({ node: n.name, to: a ?? '' });
    if (a !== undefined && !planned.has(a)) effect(a).gains.push({ node: n.name, from: b ?? '' });
  }
  return [...effects.values()].sort((x, y) => (x.policy < y.policy ? -1 : 1));
}
