// Per-resource behaviour of the built-ins: CRD checks and status, namespace phase, and the
// conversion between core/v1 Events and events.k8s.io/v1 Events (one storage, two views).

import type { StatusCause } from './errors.js';
import { type JsonObject, type KubeObject, arrayOf, deleteKey, isObject } from './types.js';

export function validateCRD(crd: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const spec = isObject(crd['spec']) ? crd['spec'] : undefined;
  if (!spec) return [{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec' }];
  const names = isObject(spec['names']) ? spec['names'] : {};
  const group = spec['group'];
  const plural = names['plural'];
  if (typeof group !== 'string' || group === '') causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.group' });
  if (typeof plural !== 'string' || plural === '') causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.names.plural' });
  if (typeof names['kind'] !== 'string' || names['kind'] === '') causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.names.kind' });
  if (spec['scope'] !== 'Cluster' && spec['scope'] !== 'Namespaced') {
    causes.push({ reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(spec['scope'] ?? '')}: supported values: "Cluster", "Namespaced"`, field: 'spec.scope' });
  }
  const versions = Array.isArray(spec['versions']) ? spec['versions'].filter(isObject) : [];
  if (versions.length === 0) causes.push({ reason: 'FieldValueInvalid', message: 'Invalid value: "null": must have exactly one version marked as storage version', field: 'spec.versions' });
  else if (versions.filter((v) => v['storage'] === true).length !== 1) {
    causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(spec['versions'])}: must have exactly one version marked as storage version`, field: 'spec.versions' });
  }
  if (typeof group === 'string' && typeof plural === 'string' && crd.metadata.name !== `${plural}.${group}`) {
    causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(crd.metadata.name ?? '')}: must be spec.names.plural+"."+spec.group`, field: 'metadata.name' });
  }
  return causes;
}

/** The status the real apiextensions controllers converge to within milliseconds. */
export function establishCRD(crd: KubeObject, now: string): KubeObject {
  const spec = isObject(crd['spec']) ? crd['spec'] : {};
  const names = isObject(spec['names']) ? spec['names'] : {};
  const versions = Array.isArray(spec['versions']) ? spec['versions'].filter(isObject) : [];
  const storage = versions.find((v) => v['storage'] === true)?.['name'];
  const prevStatus = isObject(crd['status']) ? crd['status'] : {};
  const prevStored = arrayOf(prevStatus['storedVersions']);
  const storedVersions = [...new Set([...prevStored, ...(typeof storage === 'string' ? [storage] : [])])];
  const cond = (type: string, reason: string, message: string): JsonObject => ({ type, status: 'True', lastTransitionTime: now, reason, message });
  return {
    ...crd,
    status: {
      conditions: [cond('NamesAccepted', 'NoConflicts', 'no conflicts found'), cond('Established', 'InitialNamesAccepted', 'the initial names have been accepted')],
      acceptedNames: { ...names, ...(names['listKind'] ? {} : { listKind: `${String(names['kind'])}List` }), ...(names['singular'] ? {} : { singular: String(names['kind']).toLowerCase() }) },
      storedVersions,
    },
  };
}

function pick(src: JsonObject, from: string, dst: JsonObject, to: string): void {
  if (src[from] !== undefined) dst[to] = src[from];
}

const SAME = ['metadata', 'reason', 'type', 'action', 'eventTime', 'series', 'related', 'reportingInstance'];

/** events.k8s.io/v1 Event -> core/v1 Event (storage form). */
export function eventV1ToCore(e: KubeObject): KubeObject {
  const out: KubeObject = { apiVersion: 'v1', kind: 'Event', metadata: e.metadata };
  for (const k of SAME) pick(e, k, out, k);
  pick(e, 'regarding', out, 'involvedObject');
  pick(e, 'note', out, 'message');
  pick(e, 'reportingController', out, 'reportingComponent');
  pick(e, 'deprecatedFirstTimestamp', out, 'firstTimestamp');
  pick(e, 'deprecatedLastTimestamp', out, 'lastTimestamp');
  pick(e, 'deprecatedCount', out, 'count');
  if (isObject(e['deprecatedSource'])) out['source'] = e['deprecatedSource'];
  if (out['involvedObject'] === undefined) out['involvedObject'] = {};
  return out;
}

/** core/v1 Event (storage form) -> events.k8s.io/v1 Event. */
export function eventCoreToV1(e: KubeObject): KubeObject {
  const out: KubeObject = { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: e.metadata };
  for (const k of SAME) pick(e, k, out, k);
  pick(e, 'involvedObject', out, 'regarding');
  pick(e, 'message', out, 'note');
  pick(e, 'reportingComponent', out, 'reportingController');
  pick(e, 'firstTimestamp', out, 'deprecatedFirstTimestamp');
  pick(e, 'lastTimestamp', out, 'deprecatedLastTimestamp');
  pick(e, 'count', out, 'deprecatedCount');
  pick(e, 'source', out, 'deprecatedSource');
  return out;
}

/**
 * The namespace rule every Event passes on create and update, whatever its API version
 * (legacyValidateEvent in pkg/apis/core/validation/events.go): an Event about a cluster-scoped
 * object (a Node, a NodeTracingPolicy) lives in "default" (or "kube-system" for a new-style
 * Event, one with eventTime); otherwise in the namespace of the object it is about.
 */
export function eventNamespaceCauses(group: string, e: KubeObject): StatusCause[] {
  const about = e[group === 'events.k8s.io' ? 'regarding' : 'involvedObject'];
  const aboutNs = isObject(about) && typeof about['namespace'] === 'string' ? about['namespace'] : '';
  const ns = e.metadata.namespace ?? '';
  const newStyle = typeof e['eventTime'] === 'string' && e['eventTime'] !== '';
  const ok = aboutNs !== '' ? ns === aboutNs : newStyle ? ns === 'default' || ns === 'kube-system' : ns === '' || ns === 'default';
  if (ok) return [];
  return [{ reason: 'FieldValueInvalid', field: 'involvedObject.namespace', message: `Invalid value: ${JSON.stringify(aboutNs)}: does not match event.namespace` }];
}

const OBJECT_META_FIELDS = new Set([
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
]);

const CORE_EVENT = ['involvedObject', 'reason', 'message', 'source', 'firstTimestamp', 'lastTimestamp', 'count', 'type', 'eventTime', 'series', 'action', 'related', 'reportingComponent', 'reportingInstance'];
const V1_EVENT = ['eventTime', 'series', 'reportingController', 'reportingInstance', 'action', 'reason', 'regarding', 'related', 'note', 'type', 'deprecatedSource', 'deprecatedFirstTimestamp', 'deprecatedLastTimestamp', 'deprecatedCount'];

/** Top-level fields of the built-in kinds (what their Go structs would decode). */
const BUILTIN_FIELDS: Record<string, Set<string>> = {
  '/Node': new Set(['spec', 'status']),
  '/Namespace': new Set(['spec', 'status']),
  '/ConfigMap': new Set(['data', 'binaryData', 'immutable']),
  '/Pod': new Set(['spec', 'status']),
  '/Event': new Set(CORE_EVENT),
  'events.k8s.io/Event': new Set(V1_EVENT),
  'coordination.k8s.io/Lease': new Set(['spec']),
  'apiextensions.k8s.io/CustomResourceDefinition': new Set(['spec', 'status']),
};

/**
 * Drops the fields a typed decoder would not know (top level of built-ins, and ObjectMeta of
 * every kind), returning their paths for fieldValidation.
 */
export function pruneKnownShape(group: string, kind: string, obj: KubeObject): { obj: KubeObject; unknownFields: string[] } {
  const unknownFields: string[] = [];
  const allowed = BUILTIN_FIELDS[`${group}/${kind}`];
  let out = obj;
  if (allowed) {
    for (const k of Object.keys(obj)) {
      if (k === 'apiVersion' || k === 'kind' || k === 'metadata' || allowed.has(k)) continue;
      if (out === obj) out = { ...obj };
      deleteKey(out, k);
      unknownFields.push(k);
    }
  }
  const meta = obj.metadata;
  for (const k of Object.keys(meta)) {
    if (OBJECT_META_FIELDS.has(k)) continue;
    if (out.metadata === meta) out = { ...out, metadata: { ...meta } };
    deleteKey(out.metadata, k);
    unknownFields.push(`metadata.${k}`);
  }
  return { obj: out, unknownFields };
}
