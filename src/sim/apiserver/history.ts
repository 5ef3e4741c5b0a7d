// The watch cache, one per resource as in the real apiserver's cacher: a bounded ring of recent
// events (for resuming a watch or a paginated list at an older resourceVersion) and the open
// watchers, indexed so an event is offered only to the watchers that can match it: those
// pinned to its name (`fieldSelector=metadata.name=X`), those of its namespace, and those of
// the whole resource. Label and other field selectors are evaluated on that short list only.

import { gone } from './errors.js';
import type { ResourceDef } from './registry.js';
import type { Matcher } from './selectors.js';
import type { KubeObject } from './types.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface StoredEvent {
  rv: number;
  /** Storage key of the resource (`group/version/resource`). */
  res: string;
  /** Object key (`namespace/name`). */
  key: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  obj: KubeObject;
  /** JSON text of `obj`, while the event is being dispatched, when the write made it (a Lease
   *  renewal does not: its watchers over HTTP make it). The history keeps objects, not their
   *  text, as the store's table does (LazyEntry). */
  json?: string;
  prev?: KubeObject;
  /** Set while the event is dispatched: encodings of it shared by every watcher that receives
   *  it (see `memo`; null until the first one is made). */
  frames?: Map<string, unknown> | null;
}

/** Receives events already filtered for one watch. `json` is the object's text in storage form;
 *  `ev` is the stored event (absent for the synthetic ADDED events of a watch's start). */
export type WatchSink = (type: WatchEventType, obj: KubeObject, json: string | undefined, ev?: StoredEvent) => void;

export interface Watcher {
  def: ResourceDef;
  namespace?: string;
  /** Pinned by `metadata.name=` in the field selector: the watcher is indexed under it. */
  name?: string;
  match?: Matcher;
  sink: WatchSink;
  /** Called when the resource goes away (CRD deleted) or the server stops. */
  onClose?: () => void;
}

/** One encoding of an event, made by the first watcher that needs it and shared by the rest
 *  (while the event is dispatched; a replay encodes for itself). */
export function memo<T>(ev: StoredEvent | undefined, key: string, make: () => T): T {
  if (!ev || ev.frames === undefined) return make();
  const frames = (ev.frames ??= new Map());
  if (frames.has(key)) return frames.get(key) as T;
  const v = make();
  frames.set(key, v);
  return v;
}

class WatcherIndex {
  size = 0;
  readonly all = new Set<Watcher>();
  readonly byNamespace = new Map<string, Set<Watcher>>();
  readonly byName = new Map<string, Set<Watcher>>();

  private bucket(w: Watcher): Set<Watcher> {
    const [map, k] = w.name !== undefined ? [this.byName, w.name] : w.namespace !== undefined ? [this.byNamespace, w.namespace] : [undefined, ''];
    if (!map) return this.all;
    let s = map.get(k);
    if (!s) map.set(k, (s = new Set()));
    return s;
  }

  add(w: Watcher): void {
    const s = this.bucket(w);
    if (!s.has(w)) this.size++;
    s.add(w);
  }

  delete(w: Watcher): boolean {
    const s = this.bucket(w);
    const had = s.delete(w);
    if (had) this.size--;
    if (s.size === 0 && s !== this.all) (w.name !== undefined ? this.byName : this.byNamespace).delete(w.name ?? w.namespace ?? '');
    return had;
  }

  /** Offers the event to the watchers it can concern: the whole resource's, its namespace's,
   *  and those pinned to its name. */
  dispatch(ev: StoredEvent): void {
    for (const w of this.all) deliver(w, ev);
    const slash = ev.key.indexOf('/');
    if (slash > 0) for (const w of this.byNamespace.get(ev.key.slice(0, slash)) ?? []) deliver(w, ev);
    for (const w of this.byName.get(ev.key.slice(slash + 1)) ?? []) deliver(w, ev);
  }

  *every(): Iterable<Watcher> {
    yield* this.all;
    for (const s of this.byNamespace.values()) yield* s;
    for (const s of this.byName.values()) yield* s;
  }
}

/** How long the real cacher keeps events (eventFreshDuration: the bookmark period, 60 s, plus a
 *  margin, so a client resumes from its last bookmark within the kept history), and the fewest
 *  it keeps however old (its lower bound capacity). */
export const EVENT_FRESH_MS = 75_000;
export const HISTORY_MIN = 100;

export interface HistoryOptions {
  /** Events kept per resource at most. Default 10,000 (the real upper bound is 100 * 1024). */
  capacity?: number;
  /** Events older than this are dropped once more than `min` are kept. Default EVENT_FRESH_MS. */
  freshMs?: number;
  min?: number;
  now?: () => number;
}

/** One resource's cache: its recent events and its watchers. Sized as the real watch cache
 *  sizes its history: the last 75 s of events, at least 100 and at most `capacity`. A resource
 *  that changes slowly (Nodes between two status reports) does not keep ten minutes of old
 *  objects alive, and its watchers resume from their last bookmark. */
class ResourceCache {
  private readonly ring: (StoredEvent | undefined)[];
  private readonly times: number[];
  private head = 0;
  private size = 0;
  readonly watchers = new WatcherIndex();

  /** `floor`: the oldest resourceVersion a watch may start from (the real cache's "oldest - 1"):
   *  the resourceVersion of its initial list, then, once events were dropped, the oldest kept
   *  event's minus one. */
  constructor(
    private readonly o: Required<HistoryOptions>,
    public floor: number,
  ) {
    this.ring = new Array<StoredEvent | undefined>(o.capacity);
    this.times = new Array<number>(o.capacity).fill(0);
  }

  push(ev: StoredEvent): void {
    const { capacity } = this.o;
    const now = this.o.now();
    let dropped = false;
    if (this.size === capacity) dropped = this.dropOldest();
    this.ring[(this.head + this.size) % capacity] = ev;
    this.times[(this.head + this.size) % capacity] = now;
    this.size++;
    const stale = now - this.o.freshMs;
    while (this.size > this.o.min && (this.times[this.head] ?? 0) < stale) dropped = this.dropOldest();
    if (dropped) this.floor = Math.max(this.floor, (this.ring[this.head]?.rv ?? ev.rv) - 1);
  }

  /** Drops the oldest event; true, for the caller's "dropped any". */
  private dropOldest(): true {
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.o.capacity;
    this.size--;
    return true;
  }

  since(after: number, name?: string): StoredEvent[] {
    if (after < this.floor) throw gone(`too old resource version: ${after} (${this.floor})`);
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const e = this.ring[(this.head + mid) % this.o.capacity];
      if (e && e.rv <= after) lo = mid + 1;
      else hi = mid;
    }
    const out: StoredEvent[] = [];
    for (let i = lo; i < this.size; i++) {
      const e = this.ring[(this.head + i) % this.o.capacity];
      if (e && (name === undefined || e.key.slice(e.key.indexOf('/') + 1) === name)) out.push(e);
    }
    return out;
  }
}

export class WatchHub {
  private readonly caches = new Map<string, ResourceCache>();
  /** resourceVersion at which caches opened without their own start begin (store start, reload). */
  private start = 0;

  private readonly o: Required<HistoryOptions>;

  /** A number: the capacity (events kept per resource at most). */
  constructor(opts: HistoryOptions | number = {}) {
    const o = typeof opts === 'number' ? { capacity: opts } : opts;
    this.o = { capacity: 10_000, freshMs: EVENT_FRESH_MS, min: HISTORY_MIN, now: Date.now, ...o };
  }

  get capacity(): number {
    return this.o.capacity;
  }

  private cache(res: string): ResourceCache {
    let c = this.caches.get(res);
    if (!c) this.caches.set(res, (c = new ResourceCache(this.o, this.start)));
    return c;
  }

  /** Forgets all history (start, restart): a watch from an older resourceVersion is now too
   *  old, as the real cache starts at its initial list. Open watchers stay. */
  reset(rv: number): void {
    const old = this.caches;
    this.start = rv;
    for (const [res, c] of [...old]) {
      const fresh = new ResourceCache(this.o, rv);
      for (const w of c.watchers.every()) fresh.watchers.add(w);
      old.set(res, fresh);
    }
  }

  /** A resource that appears now (a CRD's) starts its cache at `rv`, as its cacher would. */
  open(res: string, rv: number): void {
    if (!this.caches.has(res)) this.caches.set(res, new ResourceCache(this.o, rv));
  }

  /** Oldest resourceVersion of `res` still served from history. */
  floor(res: string): number {
    return this.cache(res).floor;
  }

  push(ev: StoredEvent): void {
    const c = this.cache(ev.res);
    c.push(ev);
    ev.frames = null;
    c.watchers.dispatch(ev);
    // What was encoded for this dispatch is not kept in the history.
    ev.frames = undefined;
    ev.json = undefined;
  }

  /** Events of `res` with rv > `after` (of the object `name` only, if given), oldest first;
   *  throws 410 when some were already dropped. */
  since(res: string, after: number, name?: string): StoredEvent[] {
    return this.cache(res).since(after, name);
  }

  add(res: string, w: Watcher): () => void {
    const c = this.cache(res);
    c.watchers.add(w);
    return () => {
      this.caches.get(res)?.watchers.delete(w);
    };
  }

  /** Closes every watcher of a resource (its CRD went away: its cache goes too) or all of them. */
  closeAll(res?: string): void {
    for (const [k, c] of [...this.caches]) {
      if (res !== undefined && k !== res) continue;
      for (const w of [...c.watchers.every()]) {
        c.watchers.delete(w);
        w.onClose?.();
      }
      if (res !== undefined) this.caches.delete(k);
    }
  }

  count(res?: string): number {
    let n = 0;
    for (const [k, c] of this.caches) if (res === undefined || k === res) n += c.watchers.size;
    return n;
  }
}

function inScope(w: Watcher, o: KubeObject | undefined): boolean {
  if (!o) return false;
  if (w.namespace !== undefined && o.metadata.namespace !== w.namespace) return false;
  return w.match ? w.match(o) : true;
}

/** Selector-aware delivery: an object that starts matching is ADDED, one that stops is DELETED. */
export function deliver(w: Watcher, ev: StoredEvent): void {
  const now = inScope(w, ev.obj);
  if (ev.type !== 'MODIFIED' || (!w.match && w.namespace === undefined)) {
    if (now) w.sink(ev.type, ev.obj, ev.json, ev);
    return;
  }
  const before = inScope(w, ev.prev);
  if (now && before) w.sink('MODIFIED', ev.obj, ev.json, ev);
  else if (now) w.sink('ADDED', ev.obj, ev.json, ev);
  else if (before) w.sink('DELETED', ev.obj, ev.json, ev);
}
