// A resilient informer: list, then watch from the list's resourceVersion, keeping a cache keyed
// by metadata.name (cluster-scoped objects). Built on k8s.Watch with our own loop because
// client-node's informer stops for good on any watch error but 410. Here:
//  - 410 Gone (as an HTTP status or an ERROR event) -> relist at once, diffing against the cache
//    so handlers see the adds, updates and deletes they missed;
//  - any other failure (list or watch) -> retry with exponential back-off capped at 10 s;
//  - a normal close (server timeout) -> re-watch from the last resourceVersion;
//  - no event or bookmark for watchdogMs -> the connection is presumed dead: re-watch.
// Watch events carry raw JSON while listFn usually returns client-node models (Dates instead
// of strings): `transform` is the place to reduce both to the same plain shape.
import * as k8s from '@kubernetes/client-node';

export interface ObjectWithMeta {
  metadata?: { name?: string; resourceVersion?: string };
}

export interface InformerOptions<T extends ObjectWithMeta, U> {
  kubeConfig: k8s.KubeConfig;
  /** Collection path, e.g. '/api/v1/nodes'. */
  path: string;
  listFn: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;
  labelSelector?: string;
  fieldSelector?: string;
  /** Trims objects before caching (keep only the fields used). */
  transform?: (obj: T) => U;
  onAdd?: (obj: U) => void;
  onUpdate?: (obj: U, old: U) => void;
  onDelete?: (obj: U) => void;
  /** Restart the watch after this long without an event or bookmark. Default 120 s; 0: off. */
  watchdogMs?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface Informer<U> {
  /** Resolves after the first successful list (handlers have seen every object). */
  synced: Promise<void>;
  list(): U[];
  get(name: string): U | undefined;
  stop(): void;
}

type WatchEnd = 'closed' | 'gone' | 'error';

const MAX_BACKOFF_MS = 10_000;
const MIN_BACKOFF_MS = 250;

export function startInformer<T extends ObjectWithMeta, U = T>(opts: InformerOptions<T, U>): Informer<U> {
  const transform = opts.transform ?? ((o: T) => o as unknown as U);
  const watchdogMs = opts.watchdogMs ?? 120_000;
  const log = opts.log ?? (() => undefined);
  const cache = new Map<string, { obj: U; rv: string | undefined }>();
  let stopped = false;
  let resourceVersion: string | undefined;
  let endWatch: (() => void) | undefined;
  let wake: (() => void) | undefined;

  let resolveSynced!: () => void;
  let rejectSynced!: (e: Error) => void;
  const synced = new Promise<void>((res, rej) => {
    resolveSynced = res;
    rejectSynced = rej;
  });
  synced.catch(() => undefined); // stop() before sync must not surface as an unhandled rejection

  const call = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      log(`informer ${opts.path}: ${what} handler threw`, { err: String(err) });
    }
  };

  const upsert = (raw: T): void => {
    const name = raw.metadata?.name;
    if (name === undefined) return;
    const rv = raw.metadata?.resourceVersion;
    const old = cache.get(name);
    if (old !== undefined && rv !== undefined && old.rv === rv) return;
    const obj = transform(raw);
    cache.set(name, { obj, rv });
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

  /** Replaces the cache with a fresh list, telling handlers about the differences. */
  const relist = async (): Promise<void> => {
    const res = await opts.listFn();
    if (stopped) return;
    const seen = new Set<string>();
    for (const item of res.items) {
      const name = item.metadata?.name;
      if (name !== undefined) seen.add(name);
      upsert(item);
    }
    for (const [name, entry] of [...cache]) {
      if (!seen.has(name)) {
        cache.delete(name);
        call('delete', () => opts.onDelete?.(entry.obj));
      }
    }
    resourceVersion = res.metadata?.resourceVersion;
    resolveSynced();
  };

  /** One watch connection; resolves when it ends, saying how. */
  const watchOnce = (): Promise<{ end: WatchEnd; events: number; err?: unknown }> =>
    new Promise((resolve) => {
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
          log(`informer ${opts.path}: no event for ${watchdogMs} ms, restarting the watch`);
          finish('closed');
        }, watchdogMs);
      };
      const onEvent = (phase: string, apiObj: unknown): void => {
        if (end !== undefined || stopped) return;
        events++;
        pet();
        const obj = apiObj as T & { code?: number; message?: string };
        const rv = obj.metadata?.resourceVersion;
        switch (phase) {
          case 'ADDED':
          case 'MODIFIED':
            upsert(obj);
            break;
          case 'DELETED':
            remove(obj);
            break;
          case 'BOOKMARK': // only moves resourceVersion
            break;
          case 'ERROR':
            finish(obj.code === 410 ? 'gone' : 'error', new Error(`watch error: ${obj.code ?? '?'} ${obj.message ?? ''}`));
            return;
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
    let needList = true;
    while (!stopped) {
      let failed = false;
      try {
        if (needList) {
          await relist();
          needList = false;
        }
        if (stopped) break;
        const started = Date.now();
        const r = await watchOnce();
        if (stopped) break;
        const quick = Date.now() - started < 1000;
        if (r.end === 'gone') {
          log(`informer ${opts.path}: resourceVersion too old, relisting`);
          needList = true;
          failed = quick && r.events <= 1; // a fresh list that is already too old: back off
        } else if (r.end === 'error' || (r.events === 0 && quick)) {
          // An error, or a watch that closes at once without news: don't spin.
          log(`informer ${opts.path}: watch failed`, { err: String(r.err ?? 'closed at once') });
          failed = true;
        }
      } catch (err) {
        log(`informer ${opts.path}: list failed`, { err: String(err) });
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
    synced,
    list: () => [...cache.values()].map((e) => e.obj),
    get: (name) => cache.get(name)?.obj,
    stop: () => {
      if (stopped) return;
      stopped = true;
      endWatch?.();
      wake?.();
      rejectSynced(new Error(`informer ${opts.path} stopped`));
    },
  };
}
