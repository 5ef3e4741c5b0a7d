// Which policy owns which node: pure. Overlapping policies: the highest priority wins, then the
// lexically first name. Only eligible policies own anything: not being deleted, and valid (an
// invalid policy cannot say what to render, so it must not take a node from a valid one).
import { selectorMatches } from '../api/selector.js';
import type { NodeTracingPolicy } from '../api/types.js';
import { checkPolicy } from './validity.js';

export interface Ownership {
  /** node name -> owning policy name */
  owner: Map<string, string>;
  /** policy name -> nodes it selects but another policy owns */
  lost: Map<string, string[]>;
}

/** Not being deleted, and valid. */
export function eligible(p: NodeTracingPolicy): boolean {
  return !p.metadata.deletionTimestamp && checkPolicy(p).ok;
}

function outranks(a: NodeTracingPolicy, b: NodeTracingPolicy): boolean {
  const pa = a.spec.priority ?? 0;
  const pb = b.spec.priority ?? 0;
  if (pa !== pb) return pa > pb;
  return (a.metadata.name ?? '') < (b.metadata.name ?? '');
}

/** Why a outranks b, in words ("priority 10 > 0", or "same priority 0, name a < b"). */
export function whyOutranks(a: NodeTracingPolicy, b: NodeTracingPolicy): string {
  const pa = a.spec.priority ?? 0;
  const pb = b.spec.priority ?? 0;
  if (pa !== pb) return `priority ${pa} > ${pb}`;
  return `same priority ${pa}, name ${a.metadata.name ?? ''} sorts before ${b.metadata.name ?? ''}`;
}

export function assignOwners(policies: NodeTracingPolicy[], nodes: { name: string; labels: Record<string, string> }[], canOwn: (p: NodeTracingPolicy) => boolean = eligible): Ownership {
  const active = policies.filter(canOwn);
  const owner = new Map<string, string>();
  const lost = new Map<string, string[]>();
  for (const node of nodes) {
    const selecting = active.filter((p) => selectorMatches(p.spec.nodeSelector, node.labels));
    if (selecting.length === 0) continue;
    const winner = selecting.reduce((best, p) => (outranks(p, best) ? p : best));
    const winnerName = winner.metadata.name ?? '';
    owner.set(node.name, winnerName);
    for (const p of selecting) {
      const name = p.metadata.name ?? '';
      if (name === winnerName) continue;
      lost.set(name, [...(lost.get(name) ?? []), node.name]);
    }
  }
  return { owner, lost };
}

/** Policies whose owned or lost nodes differ between two assignments: each must be reconciled
 *  (the gainer releases its new nodes, the loser updates its Conflict, its counts). */
export function ownershipChanges(before: Ownership, after: Ownership): Set<string> {
  const changed = new Set<string>();
  for (const node of new Set([...before.owner.keys(), ...after.owner.keys()])) {
    const [b, a] = [before.owner.get(node), after.owner.get(node)];
    if (b === a) continue;
    if (b !== undefined) changed.add(b);
    if (a !== undefined) changed.add(a);
  }
  for (const policy of new Set([...before.lost.keys(), ...after.lost.keys()])) {
    if ((before.lost.get(policy) ?? []).join('\n') !== (after.lost.get(policy) ?? []).join('\n')) changed.add(policy);
  }
  return changed;
}
