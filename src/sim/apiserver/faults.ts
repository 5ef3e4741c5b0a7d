// Switches tests flip to make the server misbehave the way real ones do.

export interface FaultMatch {
  verb?: string;
  resource?: string;
}

/** 429 (with Retry-After: 1) or 500, or 'stall': no answer at all, the request held until the
 *  client gives up, as when the network between loses it (a real server answers every request
 *  within its request timeout, 60 s by default, but an answer lost on the way never comes). */
export type InjectedFault = 429 | 500 | 'stall';

interface Pending {
  count: number;
  status: InjectedFault;
  match: FaultMatch | undefined;
}

export class Faults {
  /** Added to every request before it is served. */
  latencyMs = 0;
  private pending: Pending[] = [];
  private goneWatches = 0;
  /** Set by the server: closes every open watch stream. */
  dropHandler: (() => void) | undefined;

  /** The next `count` matching requests fail with `status` (see InjectedFault). */
  failNext(count: number, status: InjectedFault, match?: FaultMatch): void {
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
  takeFailure(verb: string, resource: string): InjectedFault | undefined {
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
