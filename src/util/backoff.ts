// Exponential back-off, the one formula: initial * 2^attempt, capped. The work queue uses the pure
// delay per key; the informer and the agent keep a Backoff across their retries.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/** The delay before retry number `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, o: BackoffOptions): number {
  return Math.min(o.maxMs, o.initialMs * 2 ** attempt);
}

/** Spreads a delay over ±20%, so clients that failed together do not retry together. */
export const jitter = (ms: number, random: () => number = Math.random): number => ms * (0.8 + random() * 0.4);

/** Successive delays of one retry loop: next() grows them, reset() after a success. */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly o: BackoffOptions,
    private readonly spread: (ms: number) => number = (ms) => ms,
  ) {}

  next(): number {
    return this.spread(backoffDelay(this.attempt++, this.o));
  }

  reset(): void {
    this.attempt = 0;
  }
}
