// Pure: what one policy has to do on the nodes (configure its own, clean up those that carry its
// configuration but are no longer its own, count the slots still taken by nodes it handed on),
// the rollout settings it does that with, and what its status says about the resulting plan.
import { REMOVED_HASH } from '../api/annotations.js';
import { resolveRollout, ROLLOUT_DEFAULTS, type NodeTracingPolicy, type ResolvedRollout, type UnsupportedNodeStatus } from '../api/types.js';
import { intentHash, render, type KubeletTracingDropin } from '../render/render.js';
import type { ValidationResult } from '../validate/policy.js';
import { ownerOf, toPlanNode, type CachedNode } from './nodes.js';
import type { Ownership } from './ownership.js';
import { inFlight, type Plan, type PlanNode } from './planner.js';
import type { NodeFailure, RolloutSummary } from './status.js';

export interface Target {
  node: CachedNode;
  hash: string;
  config: KubeletTracingDropin | null;
}

export interface Collected {
  /** Nodes this policy owns and configures, with their render. */
  targets: Target[];
  /** One of `targets` by node name, where the collector keeps them indexed (PlanState). */
  target?: (name: string) => Target | undefined;
  /** Nodes carrying this policy's configuration that nobody else owns now: to clean up. */
  removals: CachedNode[];
  /** Owned nodes whose kubelet cannot take the configuration. */
  unsupported: number;
  /** The same nodes, with their kubelet version and why. */
  unsupportedNodes: UnsupportedNodeStatus[];
  /** Nodes the selector matches, whoever owns them (0 while deleting: it configures nothing). */
  selected: number;
  /** Selected nodes another policy owns. */
  conflicts: { node: string; owner: string }[];
  /** Nodes handed to another policy while still restarting on this one's release. */
  borrowed: number;
}

export function hasOurConfig(n: CachedNode): boolean {
  for (const _ in n.ours) return true;
  return false;
}

/** The configuration this policy's nodes carry, and what is left to do, at `now`. A policy that
 *  is being deleted (or is invalid: callers pass deleting for those) configures nothing. */
export function collect(policy: NodeTracingPolicy, nodes: CachedNode[], own: Ownership, deleting: boolean, rollout: ResolvedRollout, now: number): Collected {
  const name = policy.metadata.name ?? '';
  const out: Collected = { targets: [], removals: [], unsupported: 0, unsupportedNodes: [], selected: 0, conflicts: [], borrowed: 0 };
  // A render depends on the spec and the kubelet version only: thousands of nodes share a few.
  const rendered = new Map<string, ReturnType<typeof render>>();
  const renderFor = (version: string) => {
    let r = rendered.get(version);
    if (!r) rendered.set(version, (r = render(policy.spec, version)));
    return r;
  };
  const lost = new Set(own.lost.get(name) ?? []);
  for (const node of nodes) {
    const owner = own.owner.get(node.name);
    const isLost = lost.size > 0 && lost.has(node.name);
    if (!deleting && isLost && owner !== undefined) out.conflicts.push({ node: node.name, owner });
    if (!deleting && (owner === name || isLost)) out.selected++;
    if (!deleting && owner === name) {
      const r = renderFor(node.kubeletVersion);
      if (r.supported) {
        out.targets.push({ node, hash: r.hash, config: r.config });
        continue;
      }
      out.unsupported++;
      out.unsupportedNodes.push({ node: node.name, kubeletVersion: node.kubeletVersion, message: r.reason });
    }
    if (ownerOf(node) !== name || !hasOurConfig(node)) continue;
    // Ours by annotation but no longer ours to configure. If nobody owns it now, take our
    // drop-in off. If another policy does, its release replaces the file in one restart; until
    // our own last release is through, that node still holds one of our slots.
    if (owner === undefined || owner === name) out.removals.push(node);
    else if (inFlight(toPlanNode(node, REMOVED_HASH), rollout, now)) out.borrowed++;
  }
  return out;
}

/** Rollout settings: the spec's while it is valid (remembered by the caller); for an invalid
 *  spec the last valid ones, or the spec's own rollout section if that part is valid, or the
 *  defaults. A deletion is never held back by a pause: the delete is the newer request. */
export function rolloutFor(policy: NodeTracingPolicy, checked: ValidationResult, remembered: ResolvedRollout | undefined): ResolvedRollout {
  const deleting = Boolean(policy.metadata.deletionTimestamp);
  let r: ResolvedRollout;
  if (checked.ok) r = resolveRollout(policy.spec);
  else if (remembered) r = remembered;
  else if (!checked.errors.some((e) => e.path === 'spec' || e.path.startsWith('spec.rollout'))) r = resolveRollout(policy.spec);
  else r = ROLLOUT_DEFAULTS;
  return deleting ? { ...r, paused: false } : r;
}

function failureOf(n: PlanNode, plan: Plan): NodeFailure {
  const why = plan.timedOut.includes(n.name) ? 'TimedOut' : n.stateHash === n.targetHash && n.state === 'RolledBack' ? 'RolledBack' : 'Failed';
  return { node: n.name, why, ...(why !== 'TimedOut' && n.message ? { message: n.message } : {}) };
}

/** What changed on a drifted node: the agent's report, or how /configz disagrees. */
export function driftOf(n: PlanNode): { node: string; message: string } {
  return { node: n.name, message: n.configzDrift ?? n.message ?? 'drifted' };
}

/** What the status says about one reconcile's plan. */
export function summarize(policy: NodeTracingPolicy, plan: Plan, planned: PlanNode[], c: Collected, rollout: ResolvedRollout): RolloutSummary {
  const deleting = Boolean(policy.metadata.deletionTimestamp);
  // Looked for only when the plan counted some: a node's phase is a lookup among thousands.
  const failures = plan.failed === 0 ? [] : planned.filter((n) => plan.phases[n.name] === 'Failed').map((n) => failureOf(n, plan)).sort((a, b) => (a.node < b.node ? -1 : 1));
  const drifted = plan.drifted === 0 ? [] : planned.filter((n) => plan.phases[n.name] === 'Drifted').map(driftOf).sort((a, b) => (a.node < b.node ? -1 : 1));
  const removalNames = new Set(c.removals.map((n) => n.name));
  const summary: RolloutSummary = {
    generation: policy.metadata.generation ?? 0,
    configHash: intentHash(policy.spec),
    target: c.targets.length,
    // The plan counts targets and removals together; the removals are few.
    updated: plan.updated - c.removals.filter((n) => plan.phases[n.name] === 'Updated').length,
    failed: plan.failed,
    unsupported: c.unsupported,
    paused: plan.paused,
    halted: plan.halted,
    blocked: !plan.halted && !plan.paused && !plan.complete && plan.release.length === 0 &&
      plan.inProgress === 0 && plan.soaking === 0 && plan.pending > 0 && plan.unavailable >= plan.maxUnavailable,
    complete: !deleting && c.targets.length > 0 && (plan.complete || plan.done),
    deleting,
    maxFailures: rollout.maxFailures,
    nodeTimeoutSeconds: rollout.nodeTimeoutSeconds,
    failures,
    drifted,
    drift: rollout.drift,
    conflicts: c.conflicts,
    unsupportedNodes: c.unsupportedNodes,
    selected: c.selected,
  };
  if (deleting || c.removals.length > 0) summary.removal = { total: c.removals.length, done: [...removalNames].filter((n) => plan.phases[n] === 'Updated').length };
  return summary;
}

/** The status of a policy whose spec failed validation. */
export function invalidSummary(policy: NodeTracingPolicy, message: string): RolloutSummary {
  return {
    generation: policy.metadata.generation ?? 0, configHash: '', target: 0, updated: 0, failed: 0, unsupported: 0,
    paused: false, halted: false, blocked: false, complete: false, deleting: false, maxFailures: 0,
    nodeTimeoutSeconds: ROLLOUT_DEFAULTS.nodeTimeoutSeconds, failures: [], conflicts: [], selected: 0, invalid: message,
  };
}
