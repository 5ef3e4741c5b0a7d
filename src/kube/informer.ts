// A resilient informer: list, then watch from the list's resourceVersion, keeping a cache keyed
// by metadata.name (cluster-scoped objects). Built on one watch request at a time (watch-stream.ts)
// with our own loop because client-node's informer stops for good on any watch error but 410.
// A watch that ran to the timeout it asked for (timeoutSeconds) is followed by another from its
// last resourceVersion, without a list, as client-go's reflector does. Whatever else ended it, the
// next round starts with a list, so the cache is checked against the server before the next watch
// (a server that restarts, or is replaced, closes its watches before their time):
//  - after a watch, the list asks for resourceVersion=<last seen>, resourceVersionMatch=
//    NotOlderThan (cheap: the watch cache serves it). "Too large resource version" means the
//    server never reached what we saw: its history is not ours (an etcd restore, a new server
//    on the same address). So does a list or event resourceVersion lower than one already seen,
//    and an object listed or watched at a lower resourceVersion than its cached self (same uid):
//    a restored server that has already written past what we saw answers the list, and only its
//    objects show the restore. Either way the cache is rebuilt from a fresh list, every object
//    handed to the handlers again, and onReset says so: whatever the owner derived from the old
//    history is void;
//  - 410 Gone (as an HTTP status or an ERROR event) -> relist at once;
//  - any other failure (list or watch) -> retry with exponential back-off capped at 10 s;
//  - no event or bookmark for watchdogMs -> the connection is presumed dead: list and re-watch.
// Before, every watch's end was followed by a list: at 5,000 nodes, the embedded cluster's agents
// listed their Node 11-17 times a second once their watches started to time out (5-10 min after
// the start; the cluster idled at 9-16% of a core then), and the controller listed every Node
// every 5-10 min.
// health() says whether the cache is fresh: synced, and watching since its last list (or on from
// a watch that ran to its timeout). Between a watch's end and the next list it may miss changes,
// and a reader that must not act on a stale view (the controller's status) waits.
// With `watchList`, the first sync (and the one after a reset) is a streaming list instead
// (KEP-3157, client-go's WatchListClient): one watch with sendInitialEvents=true that carries the
// current state as ADDED events, ends it with a bookmark annotated k8s.io/initial-events-end, and
// goes on as the watch: one request instead of two, and no list object held whole. A server that
// refuses it (422: the WatchList gate is off, as on 1.27-1.31 and 1.33, or an aggregated server)
// is listed and watched as above from then on. Later relists (a watch that ended) stay lists
// from the last resourceVersion, which is how a restore or a new server is noticed.
// Every list after the first is told to onRelist with its reason (kto_informer_relists_total).
// Watch events carry raw JSON while listFn usually returns client-node models (Dates instead
// of strings): `transform` is the place to reduce both to the same plain shape.
// The decisions (cache diff, relist reasons) are pure functions in cache-diff.ts; this class
// holds the connection, the timers and the handler calls. The watch and the clock are passed in
// (a fake watch and clock in test/kube/informer-unit.test.ts).
import * as k8s from '@kubernetes/client-node';
import { type Logger, silentLogger } from '../log.js';
import { Backoff, type BackoffOptions, jitter } from '../util/backoff.js';
import { type Clock, realClock, sleep } from '../util/clock.js';
import { watchStream } from './watch-stream.js';
import {
  afterWatch, applyEvent, applyList, type Cache, type Change, describeError, isTooLargeResourceVersion, listWentBack, listedObjectWentBack,
  type ObjectWithMeta, type RelistReason, type Reset, tooLargeReset, type WatchEnd, type WatchResult,
} from './cache-diff.js';

export { describeError, isTooLargeResourceVersion, type ObjectWithMeta, olderThan, RELIST_REASONS, type RelistReason } from './cache-diff.js';

/** What a list asks for: nothing (a consistent read of the current state), or a state not older
 *  than a resourceVersion already seen; with the informer's selectors, when it has any. */
export interface ListRequest {
  resourceVersion?: string;
  resourceVersionMatch?: 'NotOlderThan';
  labelSelector?: string;
  fieldSelector?: string;
}

/** Opens one watch, calls onEvent per event and onDone once (client-node's Watch.watch contract). */
export type WatchFn = (
  path: string,
  params: Record<string, string | number | boolean | undefined>,
  onEvent: (phase: string, obj: unknown) => void,
  onDone: (err: unknown) => void,
) => Promise<{ abort(): void }>;

export function kubeWatch(kc: k8s.KubeConfig): WatchFn {
  return (path, params, onEvent, onDone) => watchStream(kc, path, params, onEvent, onDone);
}

export interface InformerOptions<T extends ObjectWithMeta, U> {
  /** Where the watch goes, unless `watch` is given. */
  kubeConfig?: k8s.KubeConfig;
  watch?: WatchFn;
  /** Collection path, e.g. '/api/v1/nodes'. */
  path: string;
  listFn: (req: ListRequest) => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;
  labelSelector?: string;
  fieldSelector?: string;
  /** Trims objects before caching (keep only the fields used). */
  transform?: (obj: T) => U;
  onAdd?: (obj: U) => void;
  onUpdate?: (obj: U, old: U) => void;
  onDelete?: (obj: U) => void;
  /** The server's history turned out not to be the cached one; the cache was rebuilt from a
   *  fresh list (handlers already saw every object again). */
  onReset?: (why: string) => void;
  /** Restart the watch after this long without an event or bookmark. Default 120 s; 0: off. */
  watchdogMs?: number;
  /** Server-side watch timeout. Default: 300-600 s, drawn per watch (as client-go: spreads
   *  reconnects out). */
  watchTimeoutSeconds?: number;
  /** Keep a log of the names that changed, for changesSince (a reader of many objects that
   *  wants the few that changed: the controller's nodes). Without it, changesSince answers only
   *  for the current mark. */
  changeLog?: boolean;
  /** Sync with a streaming list when the cache has nothing to compare with (see above). */
  watchList?: boolean;
  /** Told about every list after the first, once it succeeded, with why it was made. */
  onRelist?: (reason: RelistReason) => void;
  /** Retries of failed lists and watches. Default 250 ms doubling to 10 s, ±20%. */
  backoff?: BackoffOptions;
  log?: Logger;
  /** How log lines name this informer. Default 'informer'. */
  name?: string;
  clock?: Clock;
  random?: () => number;
}

export interface InformerHealth {
  synced: boolean;
  /** Synced and watching since the last list: the cache misses nothing the server has. */
  fresh: boolean;
  /** The last list or watch failure, until a list succeeds again. */
  error?: string;
}

export interface Informer<U> {
  /** Resolves after the first successful list (handlers have seen every object). */
  synced: Promise<void>;
  list(): U[];
  get(name: string): U | undefined;
  /** Where the log of changed names is now: pass it to changesSince later. */
  changeMark(): number;
  /** The names whose cached object changed (added, replaced or deleted) since `mark`, oldest
   *  first and possibly repeated; undefined when the log no longer reaches back that far (read
   *  list() instead). Lets a reader of 5,000 objects look at the few that changed. */
  changesSince(mark: number): readonly string[] | undefined;
  health(): InformerHealth;
  stop(): void;
}

/** A watch that ends within this long of opening, without news, is a failure (don't spin). */
const QUICK_MS = 1000;

/** The change log keeps at least this many names (see dispatch). */
const CHANGE_LOG_MIN = 1024;

/** The annotation of the bookmark that ends a streaming list's initial events. */
export const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

/** A streaming list under way: its objects so far, why it was made, what was seen before it. */
interface InitialEvents<T> {
  objects: Map<string, T>;
  cause: RelistReason | undefined;
  seen: string | undefined;
}

/** List, then watch from the list's resourceVersion; again after every watch (see above). */
export class ListWatch<T extends ObjectWithMeta, U = T> implements Informer<U> {
  readonly synced: Promise<void>;
  /** Resolves once stop() took effect and no connection is left open. */
  readonly closed: Promise<void>;
  private readonly cache: Cache<U> = new Map();
  private readonly transform: (o: T) => U;
  private readonly watchFn: WatchFn;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly backoff: Backoff;
  private readonly stopping = new AbortController();
  private stopped = false;
  private isSynced = false;
  private fresh = false;
  private problem: string | undefined;
  /** The highest resourceVersion seen (list or event) in the current history. */
  private resourceVersion: string | undefined;
  /** A sign, seen on the watch, that the server's history is not ours: the next list starts over. */
  private pendingReset: Reset | undefined;
  /** The last watch ran to its timeout: the next round watches on without a list. */
  private rewatch = false;
  /** The timeout the last watch asked the server for. */
  private watchTimeoutMs = 0;
  private endWatch: (() => void) | undefined;
  private markSynced: () => void = () => undefined;
  private failSync: (e: Error) => void = () => undefined;
  /** The server refused a streaming list: list and watch from now on. */
  private streamRefused = false;
  /** Names changed in the cache, in order (changesSince); `changedFrom` is the mark of the first. */
  private changed: string[] = [];
  private changedFrom = 0;

  constructor(private readonly o: InformerOptions<T, U>) {
    this.transform = o.transform ?? ((x: T) => x as unknown as U);
    if (o.watch === undefined && o.kubeConfig === undefined) throw new Error(`informer ${o.path}: needs kubeConfig or watch`);
    this.watchFn = o.watch ?? kubeWatch(o.kubeConfig as k8s.KubeConfig);
    this.clock = o.clock ?? realClock;
    this.random = o.random ?? Math.random;
    this.log = o.log ?? silentLogger;
    this.backoff = new Backoff(o.backoff ?? { initialMs: 250, maxMs: 10_000 }, (ms) => jitter(ms, this.random));
    this.synced = new Promise<void>((resolve, reject) => {
      this.markSynced = resolve;
      this.failSync = reject;
    });
    this.synced.catch(() => undefined); // stop() before sync must not surface as an unhandled rejection
    this.closed = this.run();
  }

  list(): U[] {
    return [...this.cache.values()].map((e) => e.obj);
  }

  get(name: string): U | undefined {
    return this.cache.get(name)?.obj;
  }

  changeMark(): number {
    return this.changedFrom + this.changed.length;
  }

  changesSince(mark: number): readonly string[] | undefined {
    if (mark < this.changedFrom || mark > this.changeMark()) return undefined;
    return this.changed.slice(mark - this.changedFrom);
  }

  health(): InformerHealth {
    return { synced: this.isSynced, fresh: this.isSynced && this.fresh, ...(this.problem !== undefined ? { error: this.problem } : {}) };
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.fresh = false;
    this.endWatch?.();
    this.stopping.abort();
    this.failSync(new Error(`informer ${this.o.path} stopped`));
  }

  private async run(): Promise<void> {
    /** Why the next list is made; undefined before the first. Failed lists leave it as it is. */
    let cause: RelistReason | undefined;
    while (!this.stopped) {
      const next = await this.round(cause);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- changed by stop() during the await (TypeScript#9998)
      if (this.stopped) break;
      cause = next.cause ?? cause;
      if (!next.failed) {
        this.backoff.reset();
        continue;
      }
      await sleep(this.clock, this.backoff.next(), this.stopping.signal);
    }
  }

  /** One list and one watch: why the next list is made, and whether to back off before it. */
  private async round(cause: RelistReason | undefined): Promise<{ cause?: RelistReason; failed: boolean }> {
    if (this.o.watchList === true && !this.streamRefused && (this.resourceVersion === undefined || this.pendingReset !== undefined)) return this.streamRound(cause);
    try {
      if (this.rewatch) {
        // The cache is as of the last resourceVersion, and the watch goes on from there.
        this.rewatch = false;
        this.fresh = true;
      } else {
        const reset = await this.relist();
        if (this.stopped) return { failed: false };
        const reason = reset?.reason ?? cause;
        if (reason !== undefined) this.call('relist', () => this.o.onRelist?.(reason));
      }
      const started = this.clock.now();
      const r = await this.watchOnce();
      this.fresh = false;
      if (this.stopped) return { failed: false };
      this.rewatch = this.ranOut(r, started);
      const next = afterWatch(r, this.clock.now() - started < QUICK_MS, this.pendingReset);
      if (r.end === 'gone') this.log.debug({ resource: this.o.path }, `${this.name}: resourceVersion too old (410 Gone); relisting`);
      if (next.error !== undefined) this.fail('watch failed', next.error);
      return next;
    } catch (err) {
      this.fail('list failed', err);
      return { failed: true };
    }
  }

  /** A streaming list, then the watch it becomes (see above). */
  private async streamRound(cause: RelistReason | undefined): Promise<{ cause?: RelistReason; failed: boolean }> {
    const started = this.clock.now();
    const initial: InitialEvents<T> = { objects: new Map(), cause, seen: this.resourceVersion };
    const r = await this.watchOnce(initial);
    this.fresh = false;
    if (this.stopped) return { failed: false };
    const refused = (r.err as { statusCode?: unknown } | undefined)?.statusCode;
    if (r.end === 'error' && (refused === 422 || refused === 400) && !r.synced) {
      this.streamRefused = true;
      this.log.info({ resource: this.o.path, err: r.err }, `${this.name}: the server does not serve streaming lists (${describeError(r.err)}); listing instead`);
      return { failed: false };
    }
    if (!r.synced && r.end !== 'reset') {
      this.fail('streaming list failed', r.err ?? new Error(`the watch ended (${r.end}) before its initial-events-end bookmark`));
      return { failed: true };
    }
    this.rewatch = this.ranOut(r, started);
    const next = afterWatch(r, this.clock.now() - started < QUICK_MS, this.pendingReset);
    if (next.error !== undefined) this.fail('watch failed', next.error);
    return next;
  }

  /** The server ended the watch at the timeout it was asked for (90% of it, for clock skew),
   *  with nothing amiss: its history goes on, and so can the next watch. */
  private ranOut(r: WatchResult, started: number): boolean {
    return r.end === 'closed' && this.pendingReset === undefined && this.clock.now() - started >= 0.9 * this.watchTimeoutMs;
  }

  private get name(): string {
    return this.o.name ?? 'informer';
  }

  /** Lists and replaces the cache; returns the history reset it found, if any. */
  private async relist(): Promise<Reset | undefined> {
    let reset = this.pendingReset;
    const seen = this.resourceVersion;
    const selectors = {
      ...(this.o.labelSelector !== undefined ? { labelSelector: this.o.labelSelector } : {}),
      ...(this.o.fieldSelector !== undefined ? { fieldSelector: this.o.fieldSelector } : {}),
    };
    let res: Awaited<ReturnType<typeof this.o.listFn>> | undefined;
    if (reset === undefined && seen !== undefined) {
      try {
        res = await this.o.listFn({ ...selectors, resourceVersion: seen, resourceVersionMatch: 'NotOlderThan' });
      } catch (err) {
        if (!isTooLargeResourceVersion(err)) throw err;
        reset = tooLargeReset(seen, err);
      }
    }
    res ??= await this.o.listFn(selectors);
    if (this.stopped) return undefined;
    const rv = res.metadata?.resourceVersion;
    reset ??= listWentBack(rv, seen) ?? listedObjectWentBack(this.cache, res.items);
    this.dispatch(applyList(this.cache, res.items, this.transform, reset !== undefined));
    this.listed(rv, reset);
    return reset;
  }

  /** A list went through: the cache is fresh, and whatever went wrong before is over. */
  private listed(rv: string | undefined, reset: Reset | undefined): void {
    this.resourceVersion = rv;
    this.pendingReset = undefined;
    this.fresh = true;
    if (this.problem !== undefined) this.log.info({ resource: this.o.path, after: this.problem }, `${this.name}: listed again`);
    this.problem = undefined;
    if (reset !== undefined) {
      const why = reset.why;
      this.log.warn({ resource: this.o.path, why }, `${this.name}: the server's history is not the one cached; rebuilt the cache from a fresh list`);
      this.call('reset', () => this.o.onReset?.(why));
    }
    if (!this.isSynced) {
      this.isSynced = true;
      this.markSynced();
    }
  }

  /** One watch connection; resolves when it ends, saying how. With `initial`, a streaming list:
   *  the cache is replaced once its initial events are all in (`synced` says whether they were). */
  private watchOnce(initial?: InitialEvents<T>): Promise<WatchResult & { synced: boolean }> {
    return new Promise((resolve) => {
      // A streaming list after a reset asks for the current state, not one after what was seen.
      let from = initial !== undefined && this.pendingReset !== undefined ? undefined : this.resourceVersion;
      let streaming = initial;
      const watchdogMs = this.o.watchdogMs ?? 120_000;
      let events = 0;
      let ended = false;
      let watchdog: unknown;
      let connection: { abort(): void } | undefined;
      const finish = (end: WatchEnd, err?: unknown): void => {
        if (ended) return;
        ended = true;
        if (watchdog !== undefined) this.clock.clearTimeout(watchdog);
        connection?.abort();
        this.endWatch = undefined;
        resolve({ end, events, err, synced: streaming === undefined });
      };
      this.endWatch = () => finish('closed');
      const armWatchdog = (): void => {
        if (watchdogMs <= 0) return;
        if (watchdog !== undefined) this.clock.clearTimeout(watchdog);
        watchdog = this.clock.setTimeout(() => {
          this.log.warn({ resource: this.o.path, watchdogMs }, `${this.name}: no event or bookmark in time; restarting the watch`);
          finish('watchdog');
        }, watchdogMs);
      };
      const onEvent = (phase: string, obj: unknown): void => {
        if (ended || this.stopped) return;
        events++;
        armWatchdog();
        if (streaming !== undefined && phase !== 'ERROR') {
          // Once the state is in, the watch goes on from its resourceVersion.
          if (this.initialEvent(streaming, phase, obj as T)) [streaming, from] = [undefined, this.resourceVersion];
          return;
        }
        const out = applyEvent(this.cache, phase, obj, from, this.transform);
        if (out.end !== undefined) {
          if (out.reset) this.pendingReset = out.reset;
          return void finish(out.end, out.err);
        }
        this.dispatch(out.changes);
        if (out.resourceVersion !== undefined) this.resourceVersion = out.resourceVersion;
      };
      const onDone = (err: unknown): void => {
        if (err == null) return void finish('closed');
        finish((err as { statusCode?: unknown }).statusCode === 410 ? 'gone' : 'error', err);
      };
      armWatchdog();
      this.watchFn(this.o.path, initial !== undefined ? this.streamParams(from) : this.watchParams(from), onEvent, onDone).then(
        (c) => {
          connection = c;
          if (ended) c.abort();
        },
        (err: unknown) => finish('error', err),
      );
    });
  }

  /** One event of a streaming list's initial state; true once the state is whole and cached. */
  private initialEvent(initial: InitialEvents<T>, phase: string, obj: T): boolean {
    const name = obj.metadata?.name;
    if (phase === 'BOOKMARK') {
      if (obj.metadata?.annotations?.[INITIAL_EVENTS_END] !== 'true') return false;
      const rv = obj.metadata.resourceVersion;
      const objects = [...initial.objects.values()];
      const reset = this.pendingReset ?? listWentBack(rv, initial.seen) ?? listedObjectWentBack(this.cache, objects);
      // The connection's closures keep `initial` for as long as the watch lasts: not its objects.
      initial.objects.clear();
      this.dispatch(applyList(this.cache, objects, this.transform, reset !== undefined));
      this.listed(rv, reset);
      const reason = reset?.reason ?? initial.cause;
      if (reason !== undefined) this.call('relist', () => this.o.onRelist?.(reason));
      return true;
    }
    if (name === undefined) return false;
    if (phase === 'DELETED') initial.objects.delete(name);
    else if (phase === 'ADDED' || phase === 'MODIFIED') initial.objects.set(name, obj);
    return false;
  }

  private streamParams(resourceVersion: string | undefined): Record<string, string | number | boolean | undefined> {
    return { ...this.watchParams(resourceVersion), resourceVersionMatch: 'NotOlderThan', sendInitialEvents: true };
  }

  private watchParams(resourceVersion: string | undefined): Record<string, string | number | boolean | undefined> {
    const timeoutSeconds = this.o.watchTimeoutSeconds ?? Math.floor(300 * (1 + this.random()));
    this.watchTimeoutMs = timeoutSeconds * 1000;
    return {
      resourceVersion,
      allowWatchBookmarks: true,
      labelSelector: this.o.labelSelector,
      fieldSelector: this.o.fieldSelector,
      timeoutSeconds,
    };
  }

  private dispatch(changes: Change<U>[]): void {
    if (this.o.changeLog === true) for (const c of changes) this.changed.push(c.name);
    else this.changedFrom += changes.length;
    // Twice the cache in names: a reader further behind than that reads the list, about as cheap.
    if (this.changed.length > Math.max(CHANGE_LOG_MIN, 2 * this.cache.size)) {
      const drop = this.changed.length >> 1;
      this.changed = this.changed.slice(drop);
      this.changedFrom += drop;
    }
    for (const c of changes) {
      if (c.type === 'add') this.call('add', () => this.o.onAdd?.(c.obj));
      else if (c.type === 'update') this.call('update', () => this.o.onUpdate?.(c.obj, c.old));
      else this.call('delete', () => this.o.onDelete?.(c.obj));
    }
  }

  private call(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ resource: this.o.path, handler: what, err }, `${this.name}: event handler threw`);
    }
  }

  /** Logs a failure once, not on every retry, and keeps it for health(). */
  private fail(what: string, err: unknown): void {
    const msg = `${what}: ${describeError(err)}`;
    if (msg !== this.problem) this.log.warn({ resource: this.o.path, err }, `${this.name}: ${what}; retrying with back-off`);
    this.problem = msg;
  }
}

export function startInformer<T extends ObjectWithMeta, U = T>(opts: InformerOptions<T, U>): ListWatch<T, U> {
  return new ListWatch<T, U>(opts);
}
