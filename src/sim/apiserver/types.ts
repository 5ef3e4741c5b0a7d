// Shared shapes of the embedded API server. Objects are plain parsed JSON; the store never
// mutates a stored object in place (each write stores a fresh one), so lists and watch fan-out
// can share them and cache their JSON text.

export type JsonObject = Record<string, unknown>;

export interface ResourceRef {
  group: string;
  version: string;
  resource: string;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}

export const NODES: ResourceRef = { group: '', version: 'v1', resource: 'nodes' };
export const NAMESPACES: ResourceRef = { group: '', version: 'v1', resource: 'namespaces' };
export const CONFIGMAPS: ResourceRef = { group: '', version: 'v1', resource: 'configmaps' };
export const EVENTS: ResourceRef = { group: '', version: 'v1', resource: 'events' };
export const EVENTS_V1: ResourceRef = { group: 'events.k8s.io', version: 'v1', resource: 'events' };
export const LEASES: ResourceRef = { group: 'coordination.k8s.io', version: 'v1', resource: 'leases' };
export const CRDS: ResourceRef = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  resource: 'customresourcedefinitions',
};

export function resKey(r: ResourceRef): string {
  return `${r.group}/${r.version}/${r.resource}`;
}

export function groupVersion(group: string, version: string): string {
  return group === '' ? version : `${group}/${version}`;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The array, or an empty one: `unknown[]`, where `Array.isArray` alone would give `any[]`. */
export function arrayOf(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** A JSON scalar as text (strings as they are, numbers and booleans as JSON writes them), else
 *  `fallback`: absent, null, objects and arrays have no one-line text. */
export function scalarText(v: unknown, fallback = ''): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return fallback;
}

/** Removes a member of a JSON object. These are records by nature (parsed, patched and written
 *  back as plain objects), so no-dynamic-delete's advice, a Map, does not apply. */
export function deleteKey(o: Record<string, unknown>, key: string): void {
  Reflect.deleteProperty(o, key);
}

export function deepClone<T>(v: T): T {
  return structuredClone(v);
}

/** Reads a dotted path (`metadata.name`, `status.nodeInfo.kubeletVersion`) from an object. */
export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (part === '') continue;
    if (!isObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}
