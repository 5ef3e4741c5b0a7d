// The watch cache: a bounded ring of recent events (for resuming a watch or a paginated list at
// an older resourceVersion) and the set of open watchers, fed synchronously on every commit.

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
  /** Cached JSON text of `obj`. */
  json: string;
  prev?: KubeObject;
}

/** Receives events already filtered for one watch. `json` is the object's text in storage form. */
export type WatchSink = (type: WatchEventType, obj: KubeObject, json: string | undefined) => void;

export interface Watcher {
  def: ResourceDef;
  namespace?: string;
  match?: Matcher;
  sink: WatchSink;
  /** Called when the resource goes away (CRD deleted) or the server stops. */
  onClose?: () => void;
}

export class WatchHub {
  private readonly ring: (StoredEvent | undefined)[];
  private head = 0;
  private size = 0;
  /** Highest resourceVersion whose events are no longer available (etcd "compaction"). */
  compacted = 0;
  private readonly watchers = new Map<string, Set<Watcher>>();

  constructor(readonly capacity = 10_000) {
    this.ring = new Array<StoredEvent | undefined>(capacity);
  }

  /** Forgets all history (restart): any older resourceVersion is now too old. */
  reset(rv: number): void {
    this.ring.fill(undefined);
    this.head = 0;
    this.size = 0;
    this.compacted = rv;
  }

  push(ev: StoredEvent): void {
    const idx = (this.head + this.size) % this.capacity;
    if (this.size === this.capacity) {
      const old = this.ring[this.head];
      if (old) this.compacted = old.rv;
      this.head = (this.head + 1) % this.capacity;
    } else this.size++;
    this.ring[idx] = ev;
    const ws = this.watchers.get(ev.res);
    if (ws) for (const w of ws) deliver(w, ev);
  }

  /** Events with rv > `after`, oldest first; throws 410 when some were already dropped. */
  since(after: number): StoredEvent[] {
    if (after < this.compacted) throw gone(`too old resource version: ${after} (${this.compacted + 1})`);
    const out: StoredEvent[] = [];
    // binary search for the first event with rv > after
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const e = this.ring[(this.head + mid) % this.capacity];
      if (e && e.rv <= after) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.size; i++) {
      const e = this.ring[(this.head + i) % this.capacity];
      if (e) out.push(e);
    }
    return out;
  }

  add(storageKey: string, w: Watcher): () => void {
    let set = this.watchers.get(storageKey);
    if (!set) {
      set = new Set();
      this.watchers.set(storageKey, set);
    }
    set.add(w);
    return () => {
      this.watchers.get(storageKey)?.delete(w);
    };
  }

  /** Closes every watcher of a resource (its CRD went away) or all of them. */
  closeAll(storageKey?: string): void {
    for (const [k, set] of this.watchers) {
      if (storageKey !== undefined && k !== storageKey) continue;
      for (const w of [...set]) {
        set.delete(w);
        w.onClose?.();
      }
    }
  }

  count(): number {
    let n = 0;
    for (const s of this.watchers.values()) n += s.size;
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
    if (now) w.sink(ev.type, ev.obj, ev.json);
    return;
  }
  const before = inScope(w, ev.prev);
  if (now && before) w.sink('MODIFIED', ev.obj, ev.json);
  else if (now) w.sink('ADDED', ev.obj, ev.json);
  else if (before) w.sink('DELETED', ev.obj, ev.json);
}
