// A keyed, de-duplicating, rate-limited work queue in the shape of client-go's workqueue as
// controller-runtime uses it. The queue holds keys, never events: a worker re-reads state.
//  - A key is queued at most once; adding a queued key is a no-op.
//  - A key never runs twice at once: an add during its run marks it dirty, and it runs again
//    after the current run ends.
//  - A thrown error requeues the key after base * 2^failures (capped); success resets the count.
//  - A TerminalError is not retried (the caller turns it into a condition).
//  - `requeueAfterMs` schedules a delayed add; per key, the earliest pending delayed add wins.
//  - `writes` still running after a run ended do not hold the key; their failure counts as a
//    failed run (back-off, onError, the retries metric). shutdown() and idle() wait for them.
// The worker starts on a microtask, not inside add(), so a burst of synchronous adds collapses
// into one run, and a worker that adds keys never re-enters the queue.
// An observer sees what client-go's workqueue metrics count, with the same rules: an add that
// changes nothing (the key already waiting) is not an add; a key's wait runs from its first add
// to its run; a retry is a failed run put back with back-off (a requeueAfter is not one).
import { backoffDelay } from '../util/backoff.js';
import { type Clock, realClock } from '../util/clock.js';
import { TerminalError, type Result } from './result.js';

export type { Clock as TimerClock };

/** The worker's result: the reconcile contract (result.ts). */
export type WorkerResult = Result;

/** Told what the workqueue_* metrics count (seconds, from the queue's clock). */
export interface QueueObserver {
  added(): void;
  retried(): void;
  /** A key started running after waiting this long since it was added. */
  waited(seconds: number): void;
  /** A run ended (however) after this long. */
  worked(seconds: number): void;
}

/** The queue now, for the scrape-time gauges. */
export interface QueueStats {
  /** Keys added and not yet started (client-go's depth: a key re-added while it runs counts). */
  depth: number;
  /** Seconds of work in progress so far, summed over the running keys. */
  unfinishedSeconds: number;
  /** Seconds the longest-running key has run. */
  longestRunningSeconds: number;
}

export interface WorkQueueOptions {
  worker: (key: string) => Promise<WorkerResult>;
  /** Keys processed at the same time (different keys only). Default 4. */
  concurrency?: number;
  /** First retry delay after a failure. Default 5 ms (client-go's default). */
  baseDelayMs?: number;
  /** Retry delay cap. Default 30 s. */
  maxDelayMs?: number;
  clock?: Clock;
  /** Told about every failed run, with the retry delay (undefined when terminal). */
  onError?: (key: string, err: unknown, retryInMs: number | undefined) => void;
  observer?: QueueObserver;
}

interface Delayed {
  due: number;
  handle: unknown;
}

export class WorkQueue {
  private readonly worker: (key: string) => Promise<WorkerResult>;
  private readonly concurrency: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly clock: Clock;
  private readonly onError: WorkQueueOptions['onError'];
  private readonly observer: QueueObserver | undefined;

  /** FIFO of keys waiting; `queued` mirrors it for O(1) de-duplication. */
  private readonly order: string[] = [];
  private readonly queued = new Set<string>();
  /** Running keys, with when each started. */
  private readonly processing = new Map<string, number>();
  /** When each key waiting (queued or dirty) was first added. */
  private readonly addedAt = new Map<string, number>();
  /** Keys added while processing: they go back to the queue when their run ends. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, Delayed>();
  private readonly inFlight = new Set<Promise<void>>();
  /** Writes of runs that ended (Result.writes). */
  private readonly background = new Set<Promise<void>>();
  private idleWaiters: (() => void)[] = [];
  private pumpScheduled = false;
  private shuttingDown = false;

  constructor(opts: WorkQueueOptions) {
    this.worker = opts.worker;
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.baseDelayMs = opts.baseDelayMs ?? 5;
    this.maxDelayMs = opts.maxDelayMs ?? 30_000;
    this.clock = opts.clock ?? realClock;
    this.onError = opts.onError;
    this.observer = opts.observer;
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.queued.has(key) || this.dirty.has(key)) return;
    this.observer?.added();
    if (!this.addedAt.has(key)) this.addedAt.set(key, this.clock.now());
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    this.push(key);
  }

  private push(key: string): void {
    this.queued.add(key);
    this.order.push(key);
    this.schedulePump();
  }

  /** Adds `key` after `ms`. If an earlier delayed add is already pending for it, that one stays. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const due = this.clock.now() + ms;
    const existing = this.delayed.get(key);
    if (existing !== undefined) {
      if (existing.due <= due) return;
      this.clock.clearTimeout(existing.handle);
    }
    const handle = this.clock.setTimeout(() => {
      const cur = this.delayed.get(key);
      if (cur?.handle === handle) this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { due, handle });
  }

  /** Keys waiting to run (not running, not delayed): the depth metric. */
  len(): number {
    return this.order.length;
  }

  /** Keys with a delayed add pending (back-off or requeueAfter). */
  delayedLen(): number {
    return this.delayed.size;
  }

  stats(): QueueStats {
    const now = this.clock.now();
    let unfinished = 0;
    let longest = 0;
    for (const started of this.processing.values()) {
      unfinished += now - started;
      longest = Math.max(longest, now - started);
    }
    return { depth: this.order.length + this.dirty.size, unfinishedSeconds: unfinished / 1000, longestRunningSeconds: longest / 1000 };
  }

  /** Consecutive failures of `key` (0 after a success). */
  failureCount(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resolves once nothing is queued or running, and no run's writes are unanswered. Delayed
   *  adds do not count. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops accepting keys, drops queued and delayed ones, and waits for the running ones. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const d of this.delayed.values()) this.clock.clearTimeout(d.handle);
    this.delayed.clear();
    this.order.length = 0;
    this.queued.clear();
    this.dirty.clear();
    this.addedAt.clear();
    await Promise.all([...this.inFlight]);
    await Promise.all([...this.background]);
    this.notifyIdle();
  }

  /** A failed run: retried with per-key back-off, unless terminal. */
  private failed(key: string, err: unknown): void {
    if (err instanceof TerminalError) {
      this.failures.delete(key);
      this.report(key, err, undefined);
      return;
    }
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = backoffDelay(n, { initialMs: this.baseDelayMs, maxMs: this.maxDelayMs });
    this.report(key, err, delay);
    this.observer?.retried();
    this.addAfter(key, delay);
  }

  /** Writes a run left running: their failure is the key's. */
  private awaitWrites(key: string, writes: Promise<void>): void {
    const p = writes.then(
      () => undefined,
      (err: unknown) => {
        if (!this.shuttingDown) this.failed(key, err);
      },
    );
    this.background.add(p);
    void p.finally(() => {
      this.background.delete(p);
      this.notifyIdle();
    });
  }

  private report(key: string, err: unknown, retryInMs: number | undefined): void {
    try {
      this.onError?.(key, err, retryInMs);
    } catch {
      // A failing logger must not wedge the key in `processing`.
    }
  }

  private isIdle(): boolean {
    return this.order.length === 0 && this.processing.size === 0 && this.background.size === 0;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (!this.shuttingDown && this.processing.size < this.concurrency && this.order.length > 0) {
      const key = this.order.shift() as string;
      this.queued.delete(key);
      const now = this.clock.now();
      this.observer?.waited((now - (this.addedAt.get(key) ?? now)) / 1000);
      this.addedAt.delete(key);
      this.processing.set(key, now);
      const p = this.run(key);
      this.inFlight.add(p);
      void p.finally(() => this.inFlight.delete(p));
    }
    this.notifyIdle();
  }

  private async run(key: string): Promise<void> {
    try {
      const result = await this.worker(key);
      this.failures.delete(key);
      const after = result ? result.requeueAfterMs : undefined;
      if (after !== undefined) this.addAfter(key, after);
      if (result?.writes) this.awaitWrites(key, result.writes);
    } catch (err) {
      this.failed(key, err);
    } finally {
      this.observer?.worked((this.clock.now() - (this.processing.get(key) ?? this.clock.now())) / 1000);
      this.processing.delete(key);
      // Already counted as an add when it came in during the run.
      if (this.dirty.delete(key) && !this.shuttingDown) this.push(key);
      this.schedulePump();
      this.notifyIdle();
    }
  }
}
