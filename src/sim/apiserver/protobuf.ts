// Request bodies in Kubernetes protobuf (`application/vnd.kubernetes.protobuf`): kubectl's typed
// clients send them for built-in kinds (`kubectl create namespace|serviceaccount|secret|token|
// role...`, `auth can-i`, `auth whoami`) and do not fall back to JSON. Decoded here into the JSON
// shape with protobufjs, from the field numbers of k8s.io/api generated.proto for the kinds those
// commands send (declared below rather than loaded from .proto files: a few dozen fields).

import protobuf from 'protobufjs';
import { ApiError } from './errors.js';
import type { JsonObject } from './types.js';

type FieldType = 'string' | 'int' | 'bool' | 'bytes' | 'strings' | 'stringMap' | 'bytesMap' | 'extraMap' | { msg: string; repeated?: boolean };
type MessageSchema = Record<number, [string, FieldType]>;

const M = (msg: string, repeated = false): FieldType => ({ msg, repeated });

const SCHEMAS: Record<string, MessageSchema> = {
  ObjectMeta: { 1: ['name', 'string'], 2: ['generateName', 'string'], 3: ['namespace', 'string'], 5: ['uid', 'string'], 6: ['resourceVersion', 'string'], 11: ['labels', 'stringMap'], 12: ['annotations', 'stringMap'], 13: ['ownerReferences', M('OwnerReference', true)], 14: ['finalizers', 'strings'] },
  OwnerReference: { 1: ['kind', 'string'], 3: ['name', 'string'], 4: ['uid', 'string'], 5: ['apiVersion', 'string'], 6: ['controller', 'bool'], 7: ['blockOwnerDeletion', 'bool'] },
  LabelSelector: { 1: ['matchLabels', 'stringMap'], 2: ['matchExpressions', M('LabelSelectorRequirement', true)] },
  LabelSelectorRequirement: { 1: ['key', 'string'], 2: ['operator', 'string'], 3: ['values', 'strings'] },
  Namespace: { 1: ['metadata', M('ObjectMeta')], 2: ['spec', M('NamespaceSpec')] },
  NamespaceSpec: { 1: ['finalizers', 'strings'] },
  ConfigMap: { 1: ['metadata', M('ObjectMeta')], 2: ['data', 'stringMap'], 3: ['binaryData', 'bytesMap'], 4: ['immutable', 'bool'] },
  Secret: { 1: ['metadata', M('ObjectMeta')], 2: ['data', 'bytesMap'], 3: ['type', 'string'], 4: ['stringData', 'stringMap'], 5: ['immutable', 'bool'] },
  ServiceAccount: { 1: ['metadata', M('ObjectMeta')], 2: ['secrets', M('ObjectReference', true)], 3: ['imagePullSecrets', M('LocalObjectReference', true)], 4: ['automountServiceAccountToken', 'bool'] },
  ObjectReference: { 1: ['kind', 'string'], 2: ['namespace', 'string'], 3: ['name', 'string'], 4: ['uid', 'string'], 5: ['apiVersion', 'string'], 6: ['resourceVersion', 'string'], 7: ['fieldPath', 'string'] },
  LocalObjectReference: { 1: ['name', 'string'] },
  TokenRequest: { 1: ['metadata', M('ObjectMeta')], 2: ['spec', M('TokenRequestSpec')] },
  TokenRequestSpec: { 1: ['audiences', 'strings'], 4: ['expirationSeconds', 'int'], 3: ['boundObjectRef', M('BoundObjectReference')] },
  BoundObjectReference: { 1: ['kind', 'string'], 2: ['apiVersion', 'string'], 3: ['name', 'string'], 4: ['uid', 'string'] },
  TokenReview: { 1: ['metadata', M('ObjectMeta')], 2: ['spec', M('TokenReviewSpec')] },
  TokenReviewSpec: { 1: ['token', 'string'], 2: ['audiences', 'strings'] },
  SelfSubjectReview: { 1: ['metadata', M('ObjectMeta')] },
  SelfSubjectAccessReview: { 1: ['metadata', M('ObjectMeta')], 2: ['spec', M('SelfSubjectAccessReviewSpec')] },
  SelfSubjectAccessReviewSpec: { 1: ['resourceAttributes', M('ResourceAttributes')], 2: ['nonResourceAttributes', M('NonResourceAttributes')] },
  SubjectAccessReview: { 1: ['metadata', M('ObjectMeta')], 2: ['spec', M('SubjectAccessReviewSpec')] },
  LocalSubjectAccessReview: { 1: ['metadata', M('ObjectMeta')], 2: ['spec', M('SubjectAccessReviewSpec')] },
  SubjectAccessReviewSpec: { 1: ['resourceAttributes', M('ResourceAttributes')], 2: ['nonResourceAttributes', M('NonResourceAttributes')], 3: ['user', 'string'], 4: ['groups', 'strings'], 5: ['extra', 'extraMap'], 6: ['uid', 'string'] },
  ResourceAttributes: { 1: ['namespace', 'string'], 2: ['verb', 'string'], 3: ['group', 'string'], 4: ['version', 'string'], 5: ['resource', 'string'], 6: ['subresource', 'string'], 7: ['name', 'string'] },
  NonResourceAttributes: { 1: ['path', 'string'], 2: ['verb', 'string'] },
  SelfSubjectRulesReview: { 1: ['metadata', M('ObjectMeta')], 2: ['spec', M('SelfSubjectRulesReviewSpec')] },
  SelfSubjectRulesReviewSpec: { 1: ['namespace', 'string'] },
  Role: { 1: ['metadata', M('ObjectMeta')], 2: ['rules', M('PolicyRule', true)] },
  ClusterRole: { 1: ['metadata', M('ObjectMeta')], 2: ['rules', M('PolicyRule', true)], 3: ['aggregationRule', M('AggregationRule')] },
  AggregationRule: { 1: ['clusterRoleSelectors', M('LabelSelector', true)] },
  PolicyRule: { 1: ['verbs', 'strings'], 2: ['apiGroups', 'strings'], 3: ['resources', 'strings'], 4: ['resourceNames', 'strings'], 5: ['nonResourceURLs', 'strings'] },
  RoleBinding: { 1: ['metadata', M('ObjectMeta')], 2: ['subjects', M('Subject', true)], 3: ['roleRef', M('RoleRef')] },
  ClusterRoleBinding: { 1: ['metadata', M('ObjectMeta')], 2: ['subjects', M('Subject', true)], 3: ['roleRef', M('RoleRef')] },
  Subject: { 1: ['kind', 'string'], 2: ['apiGroup', 'string'], 3: ['name', 'string'], 4: ['namespace', 'string'] },
  RoleRef: { 1: ['apiGroup', 'string'], 2: ['kind', 'string'], 3: ['name', 'string'] },
  Unknown: { 1: ['typeMeta', M('TypeMeta')], 2: ['raw', 'bytes'] },
  TypeMeta: { 1: ['apiVersion', 'string'], 2: ['kind', 'string'] },
  ExtraValue: { 1: ['items', 'strings'] },
};

/** The schemas above as protobufjs types (proto2, as generated.proto is). */
function buildRoot(): protobuf.Root {
  const root = new protobuf.Root();
  for (const [name, fields] of Object.entries(SCHEMAS)) {
    const type = new protobuf.Type(name);
    for (const [id, [key, t]] of Object.entries(fields)) {
      const n = Number(id);
      if (typeof t === 'object') type.add(new protobuf.Field(key, n, t.msg, t.repeated ? 'repeated' : 'optional'));
      else if (t === 'strings') type.add(new protobuf.Field(key, n, 'string', 'repeated'));
      else if (t === 'int') type.add(new protobuf.Field(key, n, 'int64'));
      else if (t === 'stringMap') type.add(new protobuf.MapField(key, n, 'string', 'string'));
      else if (t === 'bytesMap') type.add(new protobuf.MapField(key, n, 'string', 'bytes'));
      else if (t === 'extraMap') type.add(new protobuf.MapField(key, n, 'string', 'ExtraValue'));
      else type.add(new protobuf.Field(key, n, t));
    }
    root.add(type);
  }
  root.resolveAll();
  return root;
}

let root: protobuf.Root | undefined;

/** JSON as the API server would read it: int64 as numbers, bytes as base64, extra values as
 *  lists, and no empty strings (gogo-protobuf writes them for unset non-pointer fields). */
function decode(buf: Uint8Array, name: string): JsonObject {
  root ??= buildRoot();
  const type = root.lookupType(name);
  const obj = type.toObject(type.decode(buf), { longs: Number, bytes: String }) as JsonObject;
  return tidy(obj, SCHEMAS[name] ?? {});
}

function tidy(obj: JsonObject, schema: MessageSchema): JsonObject {
  for (const [key, t] of Object.values(schema)) {
    const v = obj[key];
    if (v === '') delete obj[key];
    else if (t === 'extraMap' && v !== null && typeof v === 'object') {
      for (const [k, e] of Object.entries(v as Record<string, { items?: unknown[] }>)) (v as JsonObject)[k] = e.items ?? [];
    } else if (typeof t === 'object' && v !== undefined) {
      const sub = SCHEMAS[t.msg] ?? {};
      obj[key] = Array.isArray(v) ? v.map((x) => tidy(x as JsonObject, sub)) : tidy(v as JsonObject, sub);
    }
  }
  return obj;
}

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** Decodes a `k8s\0` envelope (runtime.Unknown) holding one of the kinds above, to JSON. */
export function decodeKubeProtobuf(body: Buffer): JsonObject {
  const unsupported = (why: string): ApiError => new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (${why})`, {});
  if (!body.subarray(0, 4).equals(MAGIC)) throw unsupported('no protobuf envelope');
  let unknown: JsonObject;
  try {
    unknown = decode(body.subarray(4), 'Unknown');
  } catch (e) {
    throw unsupported(e instanceof Error ? e.message : String(e));
  }
  const tm = (unknown['typeMeta'] ?? {}) as JsonObject;
  const kind = String(tm['kind'] ?? '');
  if (!SCHEMAS[kind] || !SCHEMAS[kind]?.[1]) throw unsupported(`protobuf is not decoded for kind ${JSON.stringify(kind)}`);
  const obj = decode(Buffer.from(String(unknown['raw'] ?? ''), 'base64'), kind);
  return { apiVersion: tm['apiVersion'], kind, metadata: {}, ...obj };
}
