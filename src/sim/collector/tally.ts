// Spans counted per key (a node, from its resource) with first and last arrival times: what the
// demo's table and `kto sim --collector`'s /spans need, in memory that grows with the number of
// nodes, not of spans (the receiver's kept spans are bounded separately).
import type { ReceivedSpan } from './spans.js';

export interface TallyEntry {
  spans: number;
  /** Arrival time (ms since the epoch) of the first and the latest batch with a span for this key. */
  firstAt: number;
  lastAt: number;
}

/** The node a kubelet's span comes from: k8s.node.name, else host.name (all a real kubelet sets). */
export function nodeOf(s: ReceivedSpan): string | undefined {
  const node = s.resource['k8s.node.name'] ?? s.resource['host.name'];
  return typeof node === 'string' ? node : undefined;
}

export class SpanTally {
  private readonly entries = new Map<string, TallyEntry>();
  /** Spans counted (with a key). */
  total = 0;

  constructor(
    private readonly key: (s: ReceivedSpan) => string | undefined = nodeOf,
    private readonly now: () => number = Date.now,
  ) {}

  add(spans: readonly ReceivedSpan[]): void {
    const at = this.now();
    for (const s of spans) {
      const k = this.key(s);
      if (k === undefined) continue;
      const e = this.entries.get(k);
      if (e) {
        e.spans++;
        e.lastAt = at;
      } else {
        this.entries.set(k, { spans: 1, firstAt: at, lastAt: at });
      }
      this.total++;
    }
  }

  get(k: string): TallyEntry | undefined {
    const e = this.entries.get(k);
    return e && { ...e };
  }

  /** Keys with at least one span, in first-arrival order. */
  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  /** Keys with at least one span. */
  get size(): number {
    return this.entries.size;
  }

  /** Every key, sorted, with its counts: the /spans body. */
  toJSON(): { total: number; nodes: Record<string, TallyEntry & { first: string; last: string }> } {
    const nodes: Record<string, TallyEntry & { first: string; last: string }> = {};
    for (const k of [...this.entries.keys()].sort()) {
      const e = this.entries.get(k);
      if (e) nodes[k] = { ...e, first: new Date(e.firstAt).toISOString(), last: new Date(e.lastAt).toISOString() };
    }
    return { total: this.total, nodes };
  }
}
