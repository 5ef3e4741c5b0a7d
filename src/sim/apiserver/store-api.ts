// The in-process face of the store: same semantics and watch events as HTTP, but it takes and
// returns plain objects (copies, so callers can never mutate what is stored).

import type { Entry, FieldValidation, KubeList, ListOptions, WatchOptions } from './store.js';
import { ObjectStore } from './store.js';
import type { WatchEventType } from './history.js';
import type { PatchType } from './patch.js';
import { type KubeObject, type ResourceRef, groupVersion } from './types.js';

export interface PatchOptions {
  subresource?: 'status';
  namespace?: string;
  fieldValidation?: FieldValidation;
}

export interface UpdateOptions {
  subresource?: 'status';
  namespace?: string;
  fieldValidation?: FieldValidation;
}

const copy = (e: Entry): KubeObject => JSON.parse(e.json) as KubeObject;

// `get<V1Node>(...)`: the type parameter is the caller's view of the JSON it reads, as in
// client-node's typed calls; the rule would have every caller (tests, the sim) cast instead.
/* eslint-disable @typescript-eslint/no-unnecessary-type-parameters */
export class Store extends ObjectStore {
  create<T extends object = KubeObject>(res: ResourceRef, obj: object, opts: { namespace?: string; fieldValidation?: FieldValidation } = {}): T {
    return copy(this.createEntry(res, structuredClone(obj), opts)) as T;
  }

  get<T extends object = KubeObject>(res: ResourceRef, name: string, namespace?: string): T {
    return copy(this.getEntry(res, name, namespace)) as T;
  }

  /** Like get, but undefined instead of a 404. */
  tryGet<T extends object = KubeObject>(res: ResourceRef, name: string, namespace?: string): T | undefined {
    const e = this.findEntry(res, name, namespace);
    return e && (copy(e) as T);
  }

  list<T extends object = KubeObject>(res: ResourceRef, opts: ListOptions = {}): KubeList<T> {
    const r = this.listEntries(res, opts);
    const metadata: KubeList<T>['metadata'] = { resourceVersion: r.resourceVersion };
    if (r.continue) metadata.continue = r.continue;
    if (r.remainingItemCount !== undefined) metadata.remainingItemCount = r.remainingItemCount;
    return { apiVersion: groupVersion(r.def.group, r.def.version), kind: r.def.listKind, metadata, items: r.items.map((e) => copy(e) as T) };
  }

  update<T extends object = KubeObject>(res: ResourceRef, obj: object, opts: UpdateOptions = {}): T {
    return copy(this.updateEntry(res, structuredClone(obj), opts)) as T;
  }

  patch<T extends object = KubeObject>(res: ResourceRef, name: string, patchType: PatchType, body: unknown, opts: PatchOptions = {}): T {
    return copy(this.patchEntry(res, name, patchType, body, opts)) as T;
  }

  /** Deletes (or marks for deletion when finalizers remain); returns the object as last stored. */
  delete<T extends object = KubeObject>(res: ResourceRef, name: string, namespace?: string): T {
    return copy(this.deleteEntry(res, name, namespace).entry) as T;
  }

  /** In-process watch; returns a stop function. Throws a 410 ApiError for a too-old resourceVersion. */
  watch(res: ResourceRef, opts: WatchOptions, onEvent: (type: WatchEventType, obj: KubeObject) => void): () => void {
    return this.watchEntries(res, opts, (type, obj, json) => onEvent(type, json ? (JSON.parse(json) as KubeObject) : structuredClone(obj)));
  }
}
/* eslint-enable @typescript-eslint/no-unnecessary-type-parameters */
