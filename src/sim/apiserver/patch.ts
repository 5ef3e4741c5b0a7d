// PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902, fast-json-patch) and the part
// of strategic merge patch our clients use: maps merge; `metadata.finalizers` merges as a set;
// `conditions`/`addresses` merge by `type`, `ownerReferences` by `uid`, pod and container lists by
// their real keys (a Service's `spec.ports` by `port`); other lists are replaced.
// Directives: `$patch: delete|replace|merge`, `$retainKeys`, `$deleteFromPrimitiveList/…`,
// `$setElementOrder/…` (accepted, order ignored).

import jsonpatch from 'fast-json-patch';
import { ApiError, badRequest } from './errors.js';
import { type JsonObject, isObject } from './types.js';

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
    if (v === null) delete out[k];
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
  const replace = patch['$patch'] === 'replace';
  const base: JsonObject = isObject(target) && !replace ? { ...target } : {};
  const retain = patch['$retainKeys'];
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith('$setElementOrder/')) continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      const cur = base[field];
      if (Array.isArray(cur) && Array.isArray(v)) base[field] = cur.filter((x) => !v.includes(x));
      continue;
    }
    if (k.startsWith('$')) throw badRequest(`unknown patch directive ${JSON.stringify(k)}`);
    if (v === null) {
      delete base[k];
      continue;
    }
    const cur = base[k];
    if (Array.isArray(v)) {
      const key = mergeKeyOf(k, path);
      if (SET_LISTS.has(k) && Array.isArray(cur)) base[k] = [...cur, ...v.filter((x) => !cur.includes(x))];
      else if (key && Array.isArray(cur)) base[k] = mergeKeyedList(cur, v, key);
      else base[k] = key ? mergeKeyedList([], v, key) : structuredClone(v);
    } else if (isObject(v)) {
      const merged = strategicMerge(cur, v, path === '' ? k : `${path}.${k}`);
      if (merged === undefined) delete base[k];
      else base[k] = merged;
    } else base[k] = v;
  }
  if (Array.isArray(retain)) {
    for (const k of Object.keys(base)) if (!retain.includes(k)) delete base[k];
  }
  return base;
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
