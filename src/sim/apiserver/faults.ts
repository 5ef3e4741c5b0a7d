// Switches tests flip to make the server misbehave the way real ones do.

export interface FaultMatch {
  verb?: string;
  resource?: string;
}

interface Pending {
  count: number;
  status: 429 | 500;
  match: FaultMatch | undefined;
}

export class Faults {
  /** Added to every request before it is served. */
  latencyMs = 0;
  private pending: Pending[] = [];
  private goneWatches = 0;
  /** Set by the server: closes every open watch stream. */
  dropHandler: (() => void) | undefined;

  /** The next `count` matching requests fail with `status` (429 carries Retry-After: 1). */
  failNext(count: number, status: 429 | 500, match?: FaultMatch): void {
    this.pending.push({ count, status, match });
  }

  /** Closes every open watch stream abruptly, now. */
  dropWatches(): void {
    this.dropHandler?.();
  }

  /** The next `count` watch requests that carry a resourceVersion get 410 Gone. */
  forceGoneOnNextWatch(count = 1): void {
    this.goneWatches += count;
  }

  reset(): void {
    this.latencyMs = 0;
    this.pending = [];
    this.goneWatches = 0;
  }

  /** Consumes a pending failure for this request, if any. */
  takeFailure(verb: string, resource: string): 429 | 500 | undefined {
    for (const p of this.pending) {
      if (p.match?.verb !== undefined && p.match.verb !== verb) continue;
      if (p.match?.resource !== undefined && p.match.resource !== resource) continue;
      p.count--;
      if (p.count <= 0) this.pending = this.pending.filter((x) => x !== p);
      return p.status;
    }
    return undefined;
  }

  takeGone(): boolean {
    if (this.goneWatches <= 0) return false;
    this.goneWatches--;
    return true;
  }
}
