// PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902, fast-json-patch) and the part
// of strategic merge patch our clients use: maps merge; `metadata.finalizers` merges as a set;
// `conditions`/`addresses` merge by `type`, `ownerReferences` by `uid`, pod and container lists by
// their real keys (a Service's `spec.ports` by `port`); other lists are replaced.
// Directives: `$patch: delete|replace|merge`, `$retainKeys`, `$deleteFromPrimitiveList/…`,
// `$setElementOrder/…` (accepted, order ignored).

import jsonpatch from 'fast-json-patch';
import { ApiError, badRequest } from './errors.js';
import { type JsonObject, arrayOf, deleteKey, isObject } from './types.js';

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

export const PATCH_CONTENT_TYPES: Record<string, PatchType> = {
  'application/merge-patch+json': 'merge',
  'application/json-patch+json': 'json',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) deleteKey(out, k);
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  try {
    const doc = structuredClone(target);
    return jsonpatch.applyPatch(doc, ops as jsonpatch.Operation[], true, true).newDocument;
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] ?? e.message : String(e);
    throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: ${msg}`);
  }
}

const MERGE_KEYS: Record<string, string> = {
  conditions: 'type',
  addresses: 'type',
  ownerReferences: 'uid',
  volumes: 'name',
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  ports: 'containerPort',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  schedulingGates: 'name',
  resourceClaims: 'name',
  secrets: 'name',
};
const SET_LISTS = new Set(['finalizers']);

function mergeKeyedList(orig: unknown[], patch: unknown[], key: string): unknown[] {
  const out = orig.map((x) => x);
  for (const p of patch) {
    if (!isObject(p)) {
      out.push(p);
      continue;
    }
    const id = p[key];
    const idx = out.findIndex((o) => isObject(o) && o[key] === id);
    if (p['$patch'] === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = strategicMerge(out[idx], p);
    else out.push(strategicMerge({}, p));
  }
  return out;
}

/** The merge key of a list field; a Service's `spec.ports` merge by `port`, a container's by `containerPort`. */
function mergeKeyOf(field: string, path: string): string | undefined {
  if (field === 'ports' && path === 'spec') return 'port';
  return MERGE_KEYS[field];
}

export function strategicMerge(target: unknown, patch: unknown, path = ''): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  if (patch['$patch'] === 'delete') return undefined;
  const base: JsonObject = isObject(target) && patch['$patch'] !== 'replace' ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) applyDirective(base, k, v);
    else mergeField(base, k, v, path);
  }
  const retain = patch['$retainKeys'];
  return Array.isArray(retain) ? Object.fromEntries(Object.entries(base).filter(([k]) => retain.includes(k))) : base;
}

/** A `$…` key of a patch map. `$patch` and `$retainKeys` act on the whole map (strategicMerge). */
function applyDirective(base: JsonObject, k: string, v: unknown): void {
  if (k === '$patch' || k === '$retainKeys' || k.startsWith('$setElementOrder/')) return;
  if (!k.startsWith('$deleteFromPrimitiveList/')) throw badRequest(`unknown patch directive ${JSON.stringify(k)}`);
  const field = k.slice('$deleteFromPrimitiveList/'.length);
  const cur = base[field];
  if (Array.isArray(cur) && Array.isArray(v)) base[field] = cur.filter((x) => !v.includes(x));
}

/** One field of a patch map: null deletes, maps merge, lists per mergeList, scalars replace. */
function mergeField(base: JsonObject, k: string, v: unknown, path: string): void {
  const cur = base[k];
  if (v === null) deleteKey(base, k);
  else if (Array.isArray(v)) base[k] = mergeList(k, cur, v, path);
  else if (isObject(v)) {
    const merged = strategicMerge(cur, v, path === '' ? k : `${path}.${k}`);
    if (merged === undefined) deleteKey(base, k);
    else base[k] = merged;
  } else base[k] = v;
}

/** A list field: a set list gains the new values, a keyed list merges by its key, others are replaced. */
function mergeList(field: string, cur: unknown, patch: unknown[], path: string): unknown[] {
  if (SET_LISTS.has(field) && Array.isArray(cur)) return setUnion(cur, patch);
  const key = mergeKeyOf(field, path);
  return key ? mergeKeyedList(arrayOf(cur), patch, key) : structuredClone(patch);
}

function setUnion(have: unknown[], add: unknown[]): unknown[] {
  return [...have, ...add.filter((x) => !have.includes(x))];
}

export function applyPatch(target: JsonObject, type: PatchType, body: unknown): JsonObject {
  let out: unknown;
  switch (type) {
    case 'merge':
      if (!isObject(body)) throw badRequest('json: cannot unmarshal array into Go value of type map[string]interface {}');
      out = mergePatch(target, body);
      break;
    case 'json':
      out = jsonPatch(target, body);
      break;
    case 'strategic':
      if (!isObject(body)) throw badRequest('json: cannot unmarshal array into Go value of type map[string]interface {}');
      out = strategicMerge(target, body);
      break;
    case 'apply':
      throw new ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json');
  }
  if (!isObject(out)) throw badRequest('patched object is not a JSON object');
  return out;
}
