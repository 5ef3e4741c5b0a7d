// The informer's decisions, without I/O: how a list or a watch event changes the cache (and which
// handler calls that makes), when the server's history is not the cached one, and what to do
// after a watch ended. As client-node's cache.ts keeps addOrUpdateObject / deleteItems apart from
// its ListWatch, so they are tested on their own (test/kube/informer-unit.test.ts).
import { isDeepStrictEqual } from 'node:util';
import * as k8s from '@kubernetes/client-node';

export interface ObjectWithMeta {
  metadata?: { name?: string; uid?: string; resourceVersion?: string; annotations?: Record<string, string> };
}

export interface CacheEntry<U> {
  obj: U;
  rv: string | undefined;
  uid: string | undefined;
}

/** Cluster-scoped objects by metadata.name. */
export type Cache<U> = Map<string, CacheEntry<U>>;

/** A handler call the change makes. */
export type Change<U> = { name: string } & ({ type: 'add'; obj: U } | { type: 'update'; obj: U; old: U } | { type: 'delete'; obj: U });

/** Why the informer listed again:
 *  - watch_closed: the server ended the watch before its timeout (a restart, a proxy); one that
 *    ran to its timeout is followed by another watch, without a list (informer.ts);
 *  - watchdog: no event or bookmark for watchdogMs: the connection was presumed dead;
 *  - expired: 410 Gone, the watch's resourceVersion was compacted away;
 *  - watch_error: the watch failed (or closed at once without news);
 *  - too_large_resource_version / resource_version_went_back: the server's history is not the
 *    cached one (an etcd restore, a new server on the same address): the cache was rebuilt. */
export const RELIST_REASONS = ['watch_closed', 'watchdog', 'expired', 'watch_error', 'too_large_resource_version', 'resource_version_went_back'] as const;
export type RelistReason = (typeof RELIST_REASONS)[number];

/** The server's history is not ours: why (for onReset and the log), and the relist reason. */
export interface Reset {
  why: string;
  reason: Extract<RelistReason, 'too_large_resource_version' | 'resource_version_went_back'>;
}

/** How a watch connection ended. */
export type WatchEnd = 'closed' | 'watchdog' | 'gone' | 'error' | 'reset';

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
      return { ...(typeof body === 'object' && body !== null ? body : {}), code: err.code };
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
  // A watch (watch-stream.ts, as client-node's Watch) fails with the response's status text and
  // statusCode.
  const code = typeof err === 'object' && err !== null && 'statusCode' in err ? err.statusCode : undefined;
  const msg = err instanceof Error ? err.message : String(err);
  return typeof code === 'number' ? `HTTP ${code}: ${msg}` : msg;
}

/** Adds or replaces one object. The same object again (resourceVersion and uid) is no change,
 *  unless `force`: what the handlers derived from the old history no longer holds. A listed one
 *  (`listed`) is no change only if it also reads the same: after an etcd restore, another version
 *  of an object can carry the resourceVersion of the one cached (the numbers start again from the
 *  snapshot's), and a list is where an informer meets the restored server. */
export function upsert<T extends ObjectWithMeta, U>(cache: Cache<U>, raw: T, transform: (o: T) => U, force: boolean, listed = false): Change<U> | undefined {
  const name = raw.metadata?.name;
  if (name === undefined) return undefined;
  const rv = raw.metadata?.resourceVersion;
  const uid = raw.metadata?.uid;
  const old = cache.get(name);
  const same = !force && old !== undefined && rv !== undefined && old.rv === rv && old.uid === uid;
  if (same && !listed) return undefined;
  const obj = transform(raw);
  if (same && isDeepStrictEqual(obj, old.obj)) return undefined;
  cache.set(name, { obj, rv, uid });
  return old === undefined ? { name, type: 'add', obj } : { name, type: 'update', obj, old: old.obj };
}

export function remove<T extends ObjectWithMeta, U>(cache: Cache<U>, raw: T, transform: (o: T) => U): Change<U> | undefined {
  const name = raw.metadata?.name;
  if (name === undefined) return undefined;
  const old = cache.get(name);
  cache.delete(name);
  return { name, type: 'delete', obj: old?.obj ?? transform(raw) };
}

/** Replaces the cache with a list: the differences (an object listed with its cached uid and
 *  resourceVersion is compared with the cached one: see upsert), or every object when `all`. */
export function applyList<T extends ObjectWithMeta, U>(cache: Cache<U>, items: readonly T[], transform: (o: T) => U, all: boolean): Change<U>[] {
  const changes: Change<U>[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    const name = item.metadata?.name;
    if (name !== undefined) seen.add(name);
    const c = upsert(cache, item, transform, all, true);
    if (c) changes.push(c);
  }
  for (const [name, entry] of [...cache]) {
    if (seen.has(name)) continue;
    cache.delete(name);
    changes.push({ name, type: 'delete', obj: entry.obj });
  }
  return changes;
}

/** A list's resourceVersion below one already seen: another history. */
export function listWentBack(listRv: string | undefined, seen: string | undefined): Reset | undefined {
  if (!olderThan(listRv, seen)) return undefined;
  return { why: `list resourceVersion ${listRv ?? ''} is older than ${seen ?? ''}, already seen`, reason: 'resource_version_went_back' };
}

/** An object listed (or watched) at a lower resourceVersion than the same object (name and uid)
 *  already cached: within one history an object's resourceVersion only grows, so this is
 *  another one. It is the sign of an etcd restore that a list alone misses once the restored
 *  server's resourceVersion has passed the one last seen (the list is then "not older"). */
export function objectWentBack<U>(cache: Cache<U>, item: ObjectWithMeta): Reset | undefined {
  const name = item.metadata?.name;
  const old = name === undefined ? undefined : cache.get(name);
  const rv = item.metadata?.resourceVersion;
  if (old === undefined || old.uid !== item.metadata?.uid || !olderThan(rv, old.rv)) return undefined;
  return { why: `${name ?? ''} at resourceVersion ${rv ?? ''} is older than its ${old.rv ?? ''}, already seen`, reason: 'resource_version_went_back' };
}

/** objectWentBack for the first listed object that did. */
export function listedObjectWentBack<U>(cache: Cache<U>, items: readonly ObjectWithMeta[]): Reset | undefined {
  for (const item of items) {
    const back = objectWentBack(cache, item);
    if (back) return back;
  }
  return undefined;
}

export function tooLargeReset(seen: string, err: unknown): Reset {
  return { why: `the server has not reached resourceVersion ${seen} (${describeError(err)})`, reason: 'too_large_resource_version' };
}

/** What one watch event does: changes (and the resourceVersion to resume from), or the end of
 *  the watch. `from` is where the watch started. */
export type EventOutcome<U> =
  | { end?: undefined; changes: Change<U>[]; resourceVersion: string | undefined }
  | { end: WatchEnd; err?: Error; reset?: Reset };

// T types the transform's argument (each informer's own object type).
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
export function applyEvent<T extends ObjectWithMeta, U>(cache: Cache<U>, phase: string, apiObj: unknown, from: string | undefined, transform: (o: T) => U): EventOutcome<U> {
  const obj = apiObj as T & StatusLike;
  if (phase === 'ERROR') {
    const err = new Error(`watch error: ${obj.code ?? '?'} ${obj.message ?? ''}`);
    if (obj.code === 410) return { end: 'gone', err };
    if (isTooLargeResourceVersion(obj)) return { end: 'reset', err, reset: { why: err.message, reason: 'too_large_resource_version' } };
    return { end: 'error', err };
  }
  const rv = obj.metadata?.resourceVersion;
  // Within one history a watch only moves forward from where it started, and each object too.
  if (olderThan(rv, from)) {
    return { end: 'reset', reset: { why: `watch event resourceVersion ${rv ?? ''} is older than ${from ?? ''}, where the watch started`, reason: 'resource_version_went_back' } };
  }
  if (phase !== 'BOOKMARK') {
    const back = objectWentBack(cache, obj);
    if (back) return { end: 'reset', reset: back };
  }
  let change: Change<U> | undefined;
  switch (phase) {
    case 'ADDED':
    case 'MODIFIED':
      change = upsert(cache, obj, transform, false);
      break;
    case 'DELETED':
      change = remove(cache, obj, transform);
      break;
    case 'BOOKMARK': // only moves resourceVersion
      break;
    default:
      return { changes: [], resourceVersion: undefined };
  }
  return { changes: change ? [change] : [], resourceVersion: rv };
}

/** How a watch connection ended, with how many events it carried. */
export interface WatchResult {
  end: WatchEnd;
  events: number;
  err?: unknown;
}

/** Why the next list is made, and whether to back off first (`error`: a failure to report). */
export interface AfterWatch {
  cause: RelistReason;
  failed: boolean;
  error?: unknown;
}

/** After a watch: relist at once, or back off. `quick`: it ended within a second of opening. */
export function afterWatch(r: WatchResult, quick: boolean, pending: Reset | undefined): AfterWatch {
  if (r.end === 'reset') return { cause: pending?.reason ?? 'watch_error', failed: false };
  // A fresh list that is already too old: back off.
  if (r.end === 'gone') return { cause: 'expired', failed: quick && r.events <= 1 };
  // An error, or a watch that closes at once without news: don't spin.
  if (r.end === 'error' || (r.events === 0 && quick)) return { cause: 'watch_error', failed: true, error: r.err ?? 'closed at once' };
  return { cause: r.end === 'watchdog' ? 'watchdog' : 'watch_closed', failed: false };
}
