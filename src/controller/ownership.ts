// Which policy owns which node: pure. Overlapping policies: the highest priority wins, then the
// lexically first name. Policies being deleted or with an invalid spec own nothing.
import { selectorMatches } from '../api/selector.js';
import type { NodeTracingPolicy } from '../api/types.js';
import type { CachedNode } from './nodes.js';

export interface Ownership {
  /** node name -> owning policy name */
  owner: Map<string, string>;
  /** policy name -> nodes it selects but another policy owns */
  lost: Map<string, string[]>;
}

function outranks(a: NodeTracingPolicy, b: NodeTracingPolicy): boolean {
  const pa = a.spec.priority ?? 0;
  const pb = b.spec.priority ?? 0;
  if (pa !== pb) return pa > pb;
  return (a.metadata.name ?? '') < (b.metadata.name ?? '');
}

export function assignOwners(policies: NodeTracingPolicy[], nodes: CachedNode[]): Ownership {
  const active = policies.filter((p) => !p.metadata.deletionTimestamp);
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
