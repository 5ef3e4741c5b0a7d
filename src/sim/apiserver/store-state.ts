// The store's state and read side: tables of objects (parsed, with cached JSON), resolution of
// resources, get/list with snapshot-consistent pagination, and watch start (replay or initial
// ADDED events). Writes live in ./store.ts.

import { ApiError, badRequest, gone, notFound, tooLargeResourceVersion } from './errors.js';
import { type StoredEvent, type WatchSink, type Watcher, WatchHub, deliver, memo } from './history.js';
import { eventCoreToV1, eventV1ToCore } from './hooks.js';
import { checkListOptions, listCauses } from './list-options.js';
import { Registry, type ResourceDef } from './registry.js';
import { type Matcher, combine, parseFieldSelector, parseLabelSelector, pinnedName } from './selectors.js';
import { type KubeObject, type ResourceRef, NAMESPACES, isObject, resKey } from './types.js';
import type { UserInfo } from './userinfo.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export interface WriteOptions {
  namespace?: string;
  subresource?: 'status';
  dryRun?: boolean;
  fieldValidation?: FieldValidation;
  /** Filled with warnings (unknown fields under fieldValidation=Warn). */
  warnings?: string[];
  /** The requester, for admission (`request.userInfo`); in-process writes leave it unset. */
  user?: UserInfo;
  /** The writer reads no text of what it stored (an in-process writer: the simulated kubelets'
   *  status reports, the node lifecycle), so the store makes none: a reader makes it when it
   *  reads, and the event's watchers over HTTP make it once for all of them (as for a Lease
   *  renewal: ObjectStore.renewLease). */
  lazyText?: boolean;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  /** Unset or "0": any state; N: not older than N (or exactly N with resourceVersionMatch=Exact). */
  resourceVersion?: string;
  resourceVersionMatch?: string;
  /** Present (any value) on a list is refused, as the real server refuses it. */
  sendInitialEvents?: boolean;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  /** A streaming list's (KEP-3157; validated by the caller): true starts with the current state,
   *  a state not older than resourceVersion; false starts from now, or from resourceVersion.
   *  Unset is the legacy watch: the current state from "" or "0", the events after N otherwise. */
  sendInitialEvents?: boolean;
}

export interface Entry {
  obj: KubeObject;
  json: string;
}

/** A stored object: its text is made when it is read (a GET, a list, a watch's start), not kept.
 *  The real watch cache keeps decoded objects too. A write makes its text once, for its
 *  watchers (see commit), and a Lease renewal not even that: 500 a second at 5,000 nodes,
 *  read by nobody but the in-process lifecycle controller, from the object. Keeping each text
 *  was 33 MB for 5,000 Nodes, and a Lease's lived its 10 s between renewals, long enough to be
 *  moved to the old generation before it became garbage: most of what the embedded cluster
 *  did at idle was making and collecting those texts. */
export class LazyEntry implements Entry {
  constructor(readonly obj: KubeObject) {}
  get json(): string {
    return JSON.stringify(this.obj);
  }
}

export interface ListResult {
  def: ResourceDef;
  items: Entry[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface KubeList<T = KubeObject> {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

export class Table {
  readonly entries = new Map<string, Entry>();
  private sorted: string[] | undefined;
  keys(): string[] {
    this.sorted ??= [...this.entries.keys()].sort();
    return this.sorted;
  }
  set(k: string, e: Entry): void {
    if (!this.entries.has(k)) this.sorted = undefined;
    this.entries.set(k, e);
  }
  delete(k: string): void {
    if (this.entries.delete(k)) this.sorted = undefined;
  }
}

export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
export const objKey = (ns: string | undefined, name: string): string => `${ns ?? ''}/${name}`;

export class StoreState {
  readonly registry = new Registry();
  readonly hub: WatchHub;
  protected rv = 0;
  protected readonly tables = new Map<string, Table>();
  /** Called after every committed write (persistence debounce, the RBAC index). */
  onCommit: ((ev: StoredEvent) => void) | undefined;

  constructor(historySize = 10_000) {
    this.hub = new WatchHub(historySize);
  }

  get resourceVersion(): number {
    return this.rv;
  }

  // ---- resolution -------------------------------------------------------------------------

  def(res: ResourceRef): ResourceDef {
    const d = this.registry.get(res);
    if (!d) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', { group: res.group || undefined, kind: res.resource });
    return d;
  }

  /** Each resource's storage key, made once: a key made per write would be a new string for the
   *  tables' lookups to hash, and one more kept by each event in the watch history. */
  private readonly storageKeys = new WeakMap<ResourceDef, string>();

  protected storageOf(def: ResourceDef): string {
    let key = this.storageKeys.get(def);
    if (key === undefined) {
      key = resKey(def.storage ?? def);
      this.storageKeys.set(def, key);
    }
    return key;
  }

  protected table(key: string): Table {
    let t = this.tables.get(key);
    if (!t) {
      t = new Table();
      this.tables.set(key, t);
    }
    return t;
  }

  /** The object as the client's resource shows it (events.k8s.io view of core events). */
  view(def: ResourceDef, e: Entry): Entry {
    if (!def.storage) return e;
    const obj = eventCoreToV1(e.obj);
    return { obj, json: JSON.stringify(obj) };
  }

  protected toStorage(def: ResourceDef, obj: KubeObject): KubeObject {
    return def.storage ? eventV1ToCore(obj) : obj;
  }

  protected namespaceOf(def: ResourceDef, obj: KubeObject | undefined, ns: string | undefined): string | undefined {
    if (!def.namespaced) return undefined;
    const n = ns ?? obj?.metadata.namespace ?? 'default';
    if (obj?.metadata.namespace !== undefined && ns !== undefined && obj.metadata.namespace !== ns) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    return n;
  }

  protected requireNamespace(ns: string | undefined): void {
    if (ns === undefined) return;
    if (!this.table(resKey(NAMESPACES)).entries.has(objKey(undefined, ns))) throw notFound('namespaces', '', ns);
  }

  // ---- reads ------------------------------------------------------------------------------

  getEntry(res: ResourceRef, name: string, namespace?: string): Entry {
    const e = this.findEntry(res, name, namespace);
    if (!e) {
      const def = this.def(res);
      throw notFound(def.resource, def.group, name);
    }
    return e;
  }

  /** Like getEntry, but undefined instead of a 404 (no error made: the embedded cluster's
   *  start asks this of thousands of objects that are not there yet). */
  findEntry(res: ResourceRef, name: string, namespace?: string): Entry | undefined {
    const def = this.def(res);
    const ns = def.namespaced ? (namespace ?? 'default') : undefined;
    const e = this.table(this.storageOf(def)).entries.get(objKey(ns, name));
    return e && this.view(def, e);
  }

  listEntries(res: ResourceRef, opts: ListOptions = {}): ListResult {
    const def = this.def(res);
    const match = combine(parseLabelSelector(opts.labelSelector), parseFieldSelector(opts.fieldSelector));
    const table = this.table(this.storageOf(def));
    const { rv, start, snapshot } = this.listPoint(def, opts);
    let keys = this.singleKey(def, opts) ?? table.keys();
    if (snapshot && snapshot.size > 0) keys = [...new Set([...keys, ...snapshot.keys()])].sort();
    const limit = opts.limit && opts.limit > 0 ? opts.limit : Infinity;
    const items: Entry[] = [];
    let lastKey = '';
    let i = start === '' ? 0 : firstKeyAfter(keys, start);
    for (; i < keys.length && items.length < limit; i++) {
      const k = keys[i] ?? '';
      const e = snapshot?.has(k) ? snapshot.get(k) : table.entries.get(k);
      if (!e) continue;
      if (opts.namespace !== undefined && e.obj.metadata.namespace !== opts.namespace) continue;
      if (match && !match(e.obj)) continue;
      items.push(this.view(def, e));
      lastKey = k;
    }
    const result: ListResult = { def, items, resourceVersion: String(rv) };
    if (items.length >= limit && i < keys.length) {
      result.continue = encodeContinue(rv, lastKey);
      if (!match) result.remainingItemCount = keysInScope(keys.slice(i), opts.namespace);
    }
    return result;
  }

  /** Where a list reads: a continue token's point, the state at an exact resourceVersion
   *  (`snapshot`: the older versions of what changed since), or now. */
  private listPoint(def: ResourceDef, opts: ListOptions): { rv: number; start: string; snapshot?: Map<string, Entry | undefined> } {
    const storageKey = this.storageOf(def);
    const floor = this.hub.floor(storageKey);
    // Checks the resourceVersion options first, continue token or not.
    const exact = listAt(opts, this.rv, floor);
    if (opts.continue) {
      const tok = decodeContinue(opts.continue);
      if (tok.rv < floor) throw gone('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
      return { rv: tok.rv, start: tok.start, snapshot: this.snapshotChanges(storageKey, tok.rv) };
    }
    if (exact !== undefined) return { rv: exact, start: '', snapshot: this.snapshotChanges(storageKey, exact) };
    return { rv: this.rv, start: '' };
  }

  /** The one key a `metadata.name=X` field selector pins, when the scope names it whole (a
   *  cluster-scoped resource, or a namespace given): a lookup instead of a scan, as the real
   *  registry's MatchesSingle. The selector still filters the result. */
  private singleKey(def: ResourceDef, opts: { namespace?: string; fieldSelector?: string }): string[] | undefined {
    const name = pinnedName(opts.fieldSelector);
    if (name === undefined || (def.namespaced && opts.namespace === undefined)) return undefined;
    return [objKey(def.namespaced ? opts.namespace : undefined, name)];
  }

  /** Versions as of `rv` of the objects changed since: key -> entry (undefined: did not exist). */
  private snapshotChanges(storageKey: string, rv: number): Map<string, Entry | undefined> {
    const out = new Map<string, Entry | undefined>();
    for (const ev of this.hub.since(storageKey, rv)) {
      if (out.has(ev.key)) continue;
      out.set(ev.key, ev.type === 'ADDED' || !ev.prev ? undefined : { obj: ev.prev, json: JSON.stringify(ev.prev) });
    }
    return out;
  }

  // ---- watch ------------------------------------------------------------------------------

  /** Starts a watch; throws 410 (ApiError) when resourceVersion is older than the resource's
   *  watch cache (its initial list, or its oldest kept event), and 504 "Too large resource
   *  version" when initial events are asked for at one the server has not reached. */
  watchEntries(res: ResourceRef, opts: WatchOptions, sink: WatchSink, onClose?: () => void): () => void {
    const def = this.def(res);
    const match: Matcher | undefined = combine(parseLabelSelector(opts.labelSelector), parseFieldSelector(opts.fieldSelector));
    const storageKey = this.storageOf(def);
    // One conversion per event for every events.k8s.io watcher, not one per watcher.
    const viewSink: WatchSink = def.storage
      ? (type, obj, _json, ev) => {
          const v = memo(ev, 'view', () => {
            const o = eventCoreToV1(obj);
            return { o, json: JSON.stringify(o) };
          });
          sink(type, v.o, v.json, ev);
        }
      : sink;
    const w: Watcher = { def, sink: viewSink };
    if (opts.namespace !== undefined) w.namespace = opts.namespace;
    const name = pinnedName(opts.fieldSelector);
    if (name !== undefined) w.name = name;
    if (match) w.match = match;
    if (onClose) w.onClose = onClose;
    const rvParam = opts.resourceVersion;
    const from = rvParam && rvParam !== '0' ? parseResourceVersion(rvParam) : undefined;
    if (opts.sendInitialEvents === true) {
      // The cacher waits (3 s) for a state not older than `from`; one this server never reached
      // ends the watch with "Too large resource version". Any older one is the current state.
      if (from !== undefined && from > this.rv) throw tooLargeResourceVersion(from, this.rv);
      this.sendState(def, opts, match, viewSink);
    } else if (from !== undefined) {
      // A resourceVersion this server has not reached (another history: a restore, a new
      // server): like the real watch cache, send nothing, bookmarks included, until it passes n.
      if (from > this.rv) w.sink = newerThan(from, w.sink);
      for (const ev of this.hub.since(storageKey, from, name)) deliver(w, ev);
    } else if (opts.sendInitialEvents === undefined) {
      this.sendState(def, opts, match, viewSink);
    }
    return this.hub.add(storageKey, w);
  }

  /** The current state of what the watch selects, as synthetic ADDED events. */
  private sendState(def: ResourceDef, opts: WatchOptions, match: Matcher | undefined, sink: WatchSink): void {
    const t = this.table(this.storageOf(def));
    for (const k of this.singleKey(def, opts) ?? t.keys()) {
      const e = t.entries.get(k);
      if (!e) continue;
      if (opts.namespace !== undefined && e.obj.metadata.namespace !== opts.namespace) continue;
      if (match && !match(e.obj)) continue;
      sink('ADDED', e.obj, e.json);
    }
  }
}

function parseResourceVersion(rv: string): number {
  const n = Number(rv);
  if (!Number.isInteger(n) || n < 0) throw badRequest(`invalid resource version: ${rv}`);
  return n;
}

function newerThan(rv: number, sink: WatchSink): WatchSink {
  return (type, obj, json) => {
    if (Number(obj.metadata.resourceVersion) > rv) sink(type, obj, json);
  };
}

/** The resourceVersion semantics of a list (apimachinery ValidateListOptions, then the watch
 *  cache): returns the exact resourceVersion to list at, or undefined for the current state. A
 *  resourceVersion the server has not reached is "too large" whatever the match. */
function listAt(opts: ListOptions, current: number, floor: number): number | undefined {
  const rv = opts.resourceVersion ?? '';
  const match = opts.resourceVersionMatch ?? '';
  checkListOptions(listCauses({ resourceVersion: rv, resourceVersionMatch: match, continue: opts.continue ?? '', sendInitialEvents: opts.sendInitialEvents }));
  if (rv === '' || rv === '0' || opts.continue) return undefined;
  const n = parseResourceVersion(rv);
  if (n > current) throw tooLargeResourceVersion(n, current);
  if (match !== 'Exact') return undefined;
  if (n < floor) throw gone(`too old resource version: ${n} (${floor})`);
  return n;
}

/** The index of the first key after `start` in sorted `keys` (where a continued list resumes). */
function firstKeyAfter(keys: string[], start: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((keys[mid] ?? '') <= start) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** How many keys are in the namespace (all, without one): remainingItemCount. */
function keysInScope(keys: string[], namespace: string | undefined): number {
  return namespace === undefined ? keys.length : keys.filter((k) => k.startsWith(`${namespace}/`)).length;
}

function encodeContinue(rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: 'kto/1', rv, start })).toString('base64url');
}

function decodeContinue(tok: string): { rv: number; start: string } {
  try {
    const v: unknown = JSON.parse(Buffer.from(tok, 'base64url').toString('utf8'));
    if (isObject(v) && typeof v['rv'] === 'number' && typeof v['start'] === 'string') return { rv: v['rv'], start: v['start'] };
  } catch {
    // fall through
  }
  throw badRequest('continue key is not valid: illegal base64 data');
}
