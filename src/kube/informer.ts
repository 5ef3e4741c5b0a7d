// A resilient informer: list, then watch from the list's resourceVersion, keeping a cache keyed
// by metadata.name (cluster-scoped objects). Built on k8s.Watch with our own loop because
// client-node's informer stops for good on any watch error but 410. Like client-go's reflector,
// every round starts with a list, so whatever ended the watch, the cache is checked against the
// server before the next one:
//  - after a watch, the list asks for resourceVersion=<last seen>, resourceVersionMatch=
//    NotOlderThan (cheap: the watch cache serves it). "Too large resource version" means the
//    server never reached what we saw: its history is not ours (an etcd restore, a new server
//    on the same address). So does a list or event resourceVersion lower than one already seen.
//    Either way the cache is rebuilt from a fresh list, every object handed to the handlers
//    again, and onReset says so: whatever the owner derived from the old history is void;
//  - 410 Gone (as an HTTP status or an ERROR event) -> relist at once;
//  - any other failure (list or watch) -> retry with exponential back-off capped at 10 s;
//  - no event or bookmark for watchdogMs -> the connection is presumed dead: list and re-watch.
// health() says whether the cache is fresh: synced, and watching since its last list. Between a
// watch's end and the next list it may miss changes, and a reader that must not act on a stale
// view (the controller's status) waits.
// Every list after the first is told to onRelist with its reason (kto_informer_relists_total).
// Watch events carry raw JSON while listFn usually returns client-node models (Dates instead
// of strings): `transform` is the place to reduce both to the same plain shape.
import * as k8s from '@kubernetes/client-node';
import { type Logger, silentLogger } from '../log.js';

export interface ObjectWithMeta {
  metadata?: { name?: string; uid?: string; resourceVersion?: string };
}

/** What a list asks for: nothing (a consistent read of the current state), or a state not older
 *  than a resourceVersion already seen. */
export interface ListRequest {
  resourceVersion?: string;
  resourceVersionMatch?: 'NotOlderThan';
}

export interface InformerOptions<T extends ObjectWithMeta, U> {
  kubeConfig: k8s.KubeConfig;
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
  /** Told about every list after the first, once it succeeded, with why it was made. */
  onRelist?: (reason: RelistReason) => void;
  log?: Logger;
}

/** Why the informer listed again:
 *  - watch_closed: the server ended the watch (its timeout): routine, every 5-10 minutes;
 *  - watchdog: no event or bookmark for watchdogMs: the connection was presumed dead;
 *  - expired: 410 Gone, the watch's resourceVersion was compacted away;
 *  - watch_error: the watch failed (or closed at once without news);
 *  - too_large_resource_version / resource_version_went_back: the server's history is not the
 *    cached one (an etcd restore, a new server on the same address): the cache was rebuilt. */
export const RELIST_REASONS = ['watch_closed', 'watchdog', 'expired', 'watch_error', 'too_large_resource_version', 'resource_version_went_back'] as const;
export type RelistReason = (typeof RELIST_REASONS)[number];

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
  health(): InformerHealth;
  stop(): void;
}

type WatchEnd = 'closed' | 'watchdog' | 'gone' | 'error' | 'reset';

/** The server's history is not ours: why (for onReset and the log), and the relist reason. */
interface Reset {
  why: string;
  reason: Extract<RelistReason, 'too_large_resource_version' | 'resource_version_went_back'>;
}

const MAX_BACKOFF_MS = 10_000;
const MIN_BACKOFF_MS = 250;

/** resourceVersions are opaque, but etcd revisions (integers) in practice: only then ordered. */
export function olderThan(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) < BigInt(b);
}

interface StatusLike {
  code?: number;
  message?: string;
  details?: { causes?: Array<{ reason?: string; message?: string }> };
}

function statusOf(err: unknown): StatusLike | undefined {
  if (err instanceof k8s.ApiException) {
    try {
      const body: unknown = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
      return { ...(typeof body === 'object' && body !== null ? (body as StatusLike) : {}), code: err.code };
    } catch {
      return { code: err.code };
    }
  }
  return typeof err === 'object' && err !== null && 'code' in err ? (err as StatusLike) : undefined;
}

/** client-go's isTooLargeResourceVersionError: the cause, or (older servers) the message. */
export function isTooLargeResourceVersion(err: unknown): boolean {
  const s = statusOf(err);
  if (!s) return false;
  if (s.details?.causes?.some((c) => c.reason === 'ResourceVersionTooLarge')) return true;
  return s.code === 504 && (s.message ?? '').includes('Too large resource version');
}

export function describeError(err: unknown): string {
  const s = err instanceof k8s.ApiException ? statusOf(err) : undefined;
  if (s) return `HTTP ${s.code ?? '?'}${s.message ? `: ${s.message}` : ''}`;
  // client-node's Watch fails with the response's status text and statusCode.
  const code = typeof err === 'object' && err !== null && 'statusCode' in err ? err.statusCode : undefined;
  const msg = err instanceof Error ? err.message : String(err);
  return typeof code === 'number' ? `HTTP ${code}: ${msg}` : msg;
}

export function startInformer<T extends ObjectWithMeta, U = T>(opts: InformerOptions<T, U>): Informer<U> {
  const transform = opts.transform ?? ((o: T) => o as unknown as U);
  const watchdogMs = opts.watchdogMs ?? 120_000;
  const log = opts.log ?? silentLogger;
  const resource = opts.path;
  const cache = new Map<string, { obj: U; rv: string | undefined; uid: string | undefined }>();
  let stopped = false;
  let synced = false;
  let fresh = false;
  let problem: string | undefined;
  /** The highest resourceVersion seen (list or event) in the current history. */
  let resourceVersion: string | undefined;
  /** A sign, seen on the watch, that the server's history is not ours: the next list starts over. */
  let pendingReset: Reset | undefined;
  let endWatch: (() => void) | undefined;
  let wake: (() => void) | undefined;

  let resolveSynced!: () => void;
  let rejectSynced!: (e: Error) => void;
  const syncedP = new Promise<void>((res, rej) => {
    resolveSynced = res;
    rejectSynced = rej;
  });
  syncedP.catch(() => undefined); // stop() before sync must not surface as an unhandled rejection

  const call = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      log.error({ resource, handler: what, err }, 'informer: event handler threw');
    }
  };

  /** Logs a failure once, not on every retry, and keeps it for health(). */
  const fail = (what: string, err: unknown): void => {
    const msg = `${what}: ${describeError(err)}`;
    if (msg !== problem) log.warn({ resource, err }, `informer: ${what}; retrying with back-off`);
    problem = msg;
  };

  const upsert = (raw: T, force: boolean): void => {
    const name = raw.metadata?.name;
    if (name === undefined) return;
    const rv = raw.metadata?.resourceVersion;
    const uid = raw.metadata?.uid;
    const old = cache.get(name);
    if (!force && old !== undefined && rv !== undefined && old.rv === rv && old.uid === uid) return;
    const obj = transform(raw);
    cache.set(name, { obj, rv, uid });
    if (old === undefined) call('add', () => opts.onAdd?.(obj));
    else call('update', () => opts.onUpdate?.(obj, old.obj));
  };

  const remove = (raw: T): void => {
    const name = raw.metadata?.name;
    if (name === undefined) return;
    const old = cache.get(name);
    cache.delete(name);
    const obj = old?.obj ?? transform(raw);
    call('delete', () => opts.onDelete?.(obj));
  };

  /** Replaces the cache with a list, telling handlers about the differences (about every object
   *  when `all`: what they derived from the old objects no longer holds). */
  const replace = (items: T[], all: boolean): void => {
    const seen = new Set<string>();
    for (const item of items) {
      const name = item.metadata?.name;
      if (name !== undefined) seen.add(name);
      upsert(item, all);
    }
    for (const [name, entry] of [...cache]) {
      if (!seen.has(name)) {
        cache.delete(name);
        call('delete', () => opts.onDelete?.(entry.obj));
      }
    }
  };

  /** Lists and replaces the cache; returns the history reset it found, if any. */
  const relist = async (): Promise<Reset | undefined> => {
    let reset = pendingReset;
    let res: Awaited<ReturnType<typeof opts.listFn>> | undefined;
    if (reset === undefined && resourceVersion !== undefined) {
      try {
        res = await opts.listFn({ resourceVersion, resourceVersionMatch: 'NotOlderThan' });
      } catch (err) {
        if (!isTooLargeResourceVersion(err)) throw err;
        reset = { why: `the server has not reached resourceVersion ${resourceVersion} (${describeError(err)})`, reason: 'too_large_resource_version' };
      }
    }
    res ??= await opts.listFn({});
    if (stopped) return undefined;
    const rv = res.metadata?.resourceVersion;
    if (reset === undefined && olderThan(rv, resourceVersion)) {
      reset = { why: `list resourceVersion ${rv ?? ''} is older than ${resourceVersion ?? ''}, already seen`, reason: 'resource_version_went_back' };
    }
    replace(res.items, reset !== undefined);
    resourceVersion = rv;
    pendingReset = undefined;
    fresh = true;
    if (problem !== undefined) log.info({ resource, after: problem }, 'informer: listed again');
    problem = undefined;
    if (reset !== undefined) {
      const why = reset.why;
      log.warn({ resource, why }, "informer: the server's history is not the one cached; rebuilt the cache from a fresh list");
      call('reset', () => opts.onReset?.(why));
    }
    if (!synced) {
      synced = true;
      resolveSynced();
    }
    return reset;
  };

  /** One watch connection; resolves when it ends, saying how. */
  const watchOnce = (): Promise<{ end: WatchEnd; events: number; err?: unknown }> =>
    new Promise((resolve) => {
      const from = resourceVersion;
      let events = 0;
      let end: WatchEnd | undefined;
      let watchdog: ReturnType<typeof setTimeout> | undefined;
      let controller: AbortController | undefined;
      const finish = (e: WatchEnd, err?: unknown): void => {
        if (end !== undefined) return;
        end = e;
        if (watchdog !== undefined) clearTimeout(watchdog);
        controller?.abort();
        endWatch = undefined;
        resolve({ end: e, events, err });
      };
      endWatch = () => finish('closed');
      const pet = (): void => {
        if (watchdogMs <= 0) return;
        if (watchdog !== undefined) clearTimeout(watchdog);
        watchdog = setTimeout(() => {
          log.warn({ resource, watchdogMs }, 'informer: no event or bookmark in time; restarting the watch');
          finish('watchdog');
        }, watchdogMs);
      };
      const onEvent = (phase: string, apiObj: unknown): void => {
        if (end !== undefined || stopped) return;
        events++;
        pet();
        const obj = apiObj as T & StatusLike;
        if (phase === 'ERROR') {
          const err = new Error(`watch error: ${obj.code ?? '?'} ${obj.message ?? ''}`);
          const tooLarge = isTooLargeResourceVersion(obj);
          if (tooLarge) pendingReset = { why: err.message, reason: 'too_large_resource_version' };
          finish(obj.code === 410 ? 'gone' : tooLarge ? 'reset' : 'error', err);
          return;
        }
        const rv = obj.metadata?.resourceVersion;
        // Within one history a watch only moves forward from where it started.
        if (olderThan(rv, from)) {
          pendingReset = { why: `watch event resourceVersion ${rv ?? ''} is older than ${from ?? ''}, where the watch started`, reason: 'resource_version_went_back' };
          finish('reset');
          return;
        }
        switch (phase) {
          case 'ADDED':
          case 'MODIFIED':
            upsert(obj, false);
            break;
          case 'DELETED':
            remove(obj);
            break;
          case 'BOOKMARK': // only moves resourceVersion
            break;
          default:
            return;
        }
        if (rv !== undefined) resourceVersion = rv;
      };
      const onDone = (err: unknown): void => {
        if (err == null) return finish('closed');
        const code = (err as { statusCode?: unknown }).statusCode;
        finish(code === 410 ? 'gone' : 'error', err);
      };
      const params = {
        resourceVersion,
        allowWatchBookmarks: true,
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        // As client-go: a server-side timeout of 5-10 min spreads reconnects out.
        timeoutSeconds: Math.floor(300 * (1 + Math.random())),
      };
      pet();
      new k8s.Watch(opts.kubeConfig).watch(opts.path, params, onEvent, onDone).then(
        (c) => {
          controller = c;
          if (end !== undefined) c.abort();
        },
        (err: unknown) => finish('error', err),
      );
    });

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  const loop = async (): Promise<void> => {
    let failures = 0;
    /** Why the next list is made; undefined before the first. Failed lists leave it as it is. */
    let cause: RelistReason | undefined;
    while (!stopped) {
      let failed = false;
      try {
        const reset = await relist();
        if (stopped) break;
        const reason = reset?.reason ?? cause;
        if (reason !== undefined) call('relist', () => opts.onRelist?.(reason));
        const started = Date.now();
        const r = await watchOnce();
        fresh = false;
        if (stopped) break;
        const quick = Date.now() - started < 1000;
        cause = r.end === 'watchdog' ? 'watchdog' : 'watch_closed';
        if (r.end === 'reset') {
          cause = pendingReset?.reason ?? 'watch_error';
        } else if (r.end === 'gone') {
          cause = 'expired';
          log.debug({ resource }, 'informer: resourceVersion too old (410 Gone); relisting');
          failed = quick && r.events <= 1; // a fresh list that is already too old: back off
        } else if (r.end === 'error' || (r.events === 0 && quick)) {
          // An error, or a watch that closes at once without news: don't spin.
          cause = 'watch_error';
          fail('watch failed', r.err ?? 'closed at once');
          failed = true;
        }
      } catch (err) {
        fail('list failed', err);
        failed = true;
      }
      if (stopped) break;
      if (!failed) {
        failures = 0;
        continue;
      }
      const delay = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** failures++);
      await sleep(delay * (0.8 + Math.random() * 0.4));
    }
  };
  void loop();

  return {
    synced: syncedP,
    list: () => [...cache.values()].map((e) => e.obj),
    get: (name) => cache.get(name)?.obj,
    health: () => ({ synced, fresh: synced && fresh, ...(problem !== undefined ? { error: problem } : {}) }),
    stop: () => {
      if (stopped) return;
      stopped = true;
      fresh = false;
      endWatch?.();
      wake?.();
      rejectSynced(new Error(`informer ${opts.path} stopped`));
    },
  };
}
