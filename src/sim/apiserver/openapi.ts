// OpenAPI documents for kubectl: /openapi/v3 (index + one document per group-version, used by
// explain and by the check for server-side field validation) and /openapi/v2 (JSON only).
// Built-in schemas are deliberately loose; CR schemas are the CRD's openAPIV3Schema.

import { createHash } from 'node:crypto';
import { BUILTIN_SCHEMAS } from './builtin-schemas.js';
import type { Registry, ResourceDef } from './registry.js';
import { type JsonObject, groupVersion, isObject } from './types.js';

const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

function reverseDomain(group: string): string {
  return group.split('.').reverse().join('.');
}

export function schemaName(def: ResourceDef): string {
  if (def.fromCRD) return `${reverseDomain(def.group)}.${def.version}.${def.kind}`;
  if (def.group === '') return `io.k8s.api.core.v1.${def.kind}`;
  if (def.group === 'apiextensions.k8s.io') return `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.${def.kind}`;
  return `io.k8s.api.${def.group.split('.')[0] ?? def.group}.${def.version}.${def.kind}`;
}

function gvk(def: ResourceDef): JsonObject {
  return { group: def.group, version: def.version, kind: def.kind };
}

const objectMetaSchema: JsonObject = {
  description: 'ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.',
  type: 'object',
  properties: {
    name: { description: 'Name must be unique within a namespace.', type: 'string' },
    generateName: { type: 'string' },
    namespace: { description: 'Namespace defines the space within which each name must be unique.', type: 'string' },
    uid: { type: 'string' },
    resourceVersion: { type: 'string' },
    generation: { type: 'integer', format: 'int64' },
    creationTimestamp: { type: 'string', format: 'date-time' },
    deletionTimestamp: { type: 'string', format: 'date-time' },
    deletionGracePeriodSeconds: { type: 'integer', format: 'int64' },
    labels: { description: 'Map of string keys and values that can be used to organize and categorize objects.', type: 'object', additionalProperties: { type: 'string' } },
    annotations: { description: 'Annotations is an unstructured key value map.', type: 'object', additionalProperties: { type: 'string' } },
    finalizers: { type: 'array', items: { type: 'string' }, 'x-kubernetes-patch-strategy': 'merge' },
    ownerReferences: { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, 'x-kubernetes-patch-merge-key': 'uid', 'x-kubernetes-patch-strategy': 'merge' },
    managedFields: { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
  },
};

const loose = (description: string): JsonObject => ({ description, type: 'object', 'x-kubernetes-preserve-unknown-fields': true });

function builtinSchema(def: ResourceDef): JsonObject {
  const props: JsonObject = {
    apiVersion: { description: 'APIVersion defines the versioned schema of this representation of an object.', type: 'string' },
    kind: { description: 'Kind is a string value representing the REST resource this object represents.', type: 'string' },
    metadata: { description: "Standard object's metadata.", allOf: [{ $ref: `#/components/schemas/${OBJECT_META}` }], default: {} },
  };
  const known = BUILTIN_SCHEMAS[`${def.group}/${def.kind}`];
  if (known) {
    const out: JsonObject = { description: known.description, type: 'object', properties: { ...props, ...structuredClone(known.properties) }, 'x-kubernetes-group-version-kind': [gvk(def)] };
    if (known.required) out['required'] = known.required;
    return out;
  }
  switch (def.kind) {
    case 'ConfigMap':
      props['data'] = { type: 'object', additionalProperties: { type: 'string' } };
      props['binaryData'] = { type: 'object', additionalProperties: { type: 'string', format: 'byte' } };
      props['immutable'] = { type: 'boolean' };
      break;
    case 'Event':
      for (const k of ['involvedObject', 'source', 'series', 'related', 'regarding', 'deprecatedSource']) props[k] = loose(k);
      for (const k of ['reason', 'message', 'type', 'action', 'reportingComponent', 'reportingInstance', 'reportingController', 'note', 'firstTimestamp', 'lastTimestamp', 'eventTime', 'deprecatedFirstTimestamp', 'deprecatedLastTimestamp']) props[k] = { type: 'string' };
      props['count'] = { type: 'integer', format: 'int32' };
      props['deprecatedCount'] = { type: 'integer', format: 'int32' };
      break;
    default:
      props['spec'] = loose(`Spec of the ${def.kind}.`);
      if (def.hasStatus) props['status'] = loose(`Most recently observed status of the ${def.kind}.`);
  }
  return { description: `${def.kind} (served by the embedded kto API server).`, type: 'object', properties: props, 'x-kubernetes-group-version-kind': [gvk(def)] };
}

function crSchema(def: ResourceDef): JsonObject {
  const s: JsonObject = isObject(def.schema) ? structuredClone(def.schema) : { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  const props = isObject(s['properties']) ? s['properties'] : {};
  props['apiVersion'] ??= { type: 'string' };
  props['kind'] ??= { type: 'string' };
  props['metadata'] = { description: "Standard object's metadata.", allOf: [{ $ref: `#/components/schemas/${OBJECT_META}` }] };
  s['properties'] = props;
  s['x-kubernetes-group-version-kind'] = [gvk(def)];
  return s;
}

function param(name: string): JsonObject {
  return { name, in: 'query', schema: { type: 'string', uniqueItems: true } };
}

function op(def: ResourceDef, action: string, ref: string, extraParams: string[] = []): JsonObject {
  const o: JsonObject = {
    operationId: `${action}${def.kind}`,
    parameters: extraParams.map(param),
    responses: { '200': { description: 'OK', content: { 'application/json': { schema: { $ref: ref } } } } },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk(def),
  };
  if (action === 'patch' || action === 'put' || action === 'post') {
    o['requestBody'] = { content: { 'application/json': { schema: { $ref: ref } } } };
  }
  return o;
}

function paths(def: ResourceDef, prefix: string, ref: string): JsonObject {
  const base = def.namespaced ? `${prefix}/namespaces/{namespace}/${def.resource}` : `${prefix}/${def.resource}`;
  const writeParams = ['dryRun', 'fieldManager', 'fieldValidation', 'pretty'];
  if (def.virtual) return { [base]: { post: op(def, 'post', ref, writeParams) } };
  const out: JsonObject = {
    [base]: { get: op(def, 'list', ref, ['labelSelector', 'fieldSelector', 'limit', 'continue', 'watch']), post: op(def, 'post', ref, writeParams) },
    [`${base}/{name}`]: {
      get: op(def, 'get', ref),
      put: op(def, 'put', ref, writeParams),
      patch: op(def, 'patch', ref, [...writeParams, 'force']),
      delete: op(def, 'delete', ref, ['dryRun', 'gracePeriodSeconds', 'propagationPolicy']),
    },
  };
  if (def.hasStatus) out[`${base}/{name}/status`] = { get: op(def, 'get', ref), put: op(def, 'put', ref, writeParams), patch: op(def, 'patch', ref, [...writeParams, 'force']) };
  return out;
}

export function gvDocument(registry: Registry, group: string, version: string): JsonObject | undefined {
  const defs = registry.all().filter((d) => d.group === group && d.version === version && !d.storage);
  const aliases = registry.all().filter((d) => d.group === group && d.version === version && d.storage);
  const all = [...defs, ...aliases];
  if (all.length === 0) return undefined;
  const schemas: JsonObject = { [OBJECT_META]: objectMetaSchema };
  let p: JsonObject = {};
  const prefix = group === '' ? '/api/v1' : `/apis/${group}/${version}`;
  for (const d of all) {
    const name = schemaName(d);
    schemas[name] = d.fromCRD ? crSchema(d) : builtinSchema(d);
    p = { ...p, ...paths(d, prefix, `#/components/schemas/${name}`) };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'unversioned' }, paths: p, components: { schemas } };
}

export function v3Index(registry: Registry): JsonObject {
  const gvs = new Set<string>();
  for (const d of registry.all()) gvs.add(d.group === '' ? 'api/v1' : `apis/${d.group}/${d.version}`);
  const out: JsonObject = {};
  for (const gv of [...gvs].sort()) {
    const parts = gv.split('/');
    const doc = gv === 'api/v1' ? gvDocument(registry, '', 'v1') : gvDocument(registry, parts[1] ?? '', parts[2] ?? '');
    const hash = createHash('sha512').update(JSON.stringify(doc)).digest('hex').slice(0, 64).toUpperCase();
    out[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=${hash}` };
  }
  return { paths: out };
}

/** Swagger 2.0 with every definition (kubectl falls back to it when v3 is unavailable). */
export function v2Document(registry: Registry): JsonObject {
  const definitions: JsonObject = { [OBJECT_META]: objectMetaSchema };
  for (const d of registry.all()) {
    if (d.storage) continue;
    const s = d.fromCRD ? crSchema(d) : builtinSchema(d);
    // Swagger 2 style: metadata is a plain $ref (kube-openapi's v2 models do not follow allOf).
    const props = isObject(s['properties']) ? s['properties'] : {};
    props['metadata'] = { description: "Standard object's metadata.", $ref: `#/definitions/${OBJECT_META}` };
    // kubectl apply computes a strategic merge patch from the v2 model of a kind when it finds
    // one; without it, from its own compiled types. For the kinds with nested lists served here,
    // the compiled types are the exact patch metadata, so their v2 models are not indexed by kind.
    if (BUILTIN_SCHEMAS[`${d.group}/${d.kind}`]) delete s['x-kubernetes-group-version-kind'];
    definitions[schemaName(d)] = JSON.parse(JSON.stringify(s).replaceAll('#/components/schemas/', '#/definitions/')) as JsonObject;
  }
  return { swagger: '2.0', info: { title: 'Kubernetes', version: 'unversioned' }, paths: {}, definitions, 'x-kto-groupversions': registry.all().map((d) => groupVersion(d.group, d.version)) };
}
