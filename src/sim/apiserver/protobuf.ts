// Request bodies in Kubernetes protobuf (`application/vnd.kubernetes.protobuf`): kubectl's typed
// clients send them for built-in kinds (`kubectl create namespace|serviceaccount|secret|token|
// role...`, `auth can-i`, `auth whoami`) and do not fall back to JSON. Decoded here into the JSON
// shape by the field numbers of k8s.io/api generated.proto, for the kinds those commands send.

import { ApiError } from './errors.js';
import type { JsonObject } from './types.js';

type FieldType = 'string' | 'int' | 'bool' | 'bytes' | 'time' | 'strings' | 'stringMap' | 'bytesMap' | 'extraMap' | { msg: string; repeated?: boolean };
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
  MapEntry: { 1: ['key', 'bytes'], 2: ['value', 'bytes'] },
};

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let out = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = this.buf[this.pos++];
      if (b === undefined) throw new Error('truncated varint');
      out |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return out;
    }
  }
  bytes(): Buffer {
    const n = Number(this.varint());
    const b = this.buf.subarray(this.pos, this.pos + n);
    if (b.length !== n) throw new Error('truncated field');
    this.pos += n;
    return b;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

function decode(buf: Buffer, name: string): JsonObject {
  const schema = SCHEMAS[name] ?? {};
  const r = new Reader(buf);
  const out: JsonObject = {};
  while (!r.done) {
    const tag = Number(r.varint());
    const [field, wire] = [tag >>> 3, tag & 7];
    const f = schema[field];
    if (!f) {
      r.skip(wire);
      continue;
    }
    const [key, type] = f;
    if (typeof type === 'object') {
      const v = decode(r.bytes(), type.msg);
      if (type.repeated) ((out[key] ??= []) as unknown[]).push(v);
      else out[key] = v;
      continue;
    }
    switch (type) {
      case 'string':
        out[key] = r.bytes().toString('utf8');
        break;
      case 'strings':
        ((out[key] ??= []) as unknown[]).push(r.bytes().toString('utf8'));
        break;
      case 'int':
        out[key] = Number(BigInt.asIntN(64, r.varint()));
        break;
      case 'bool':
        out[key] = r.varint() !== 0n;
        break;
      case 'bytes':
        out[key] = r.bytes().toString('base64');
        break;
      case 'time':
        r.skip(wire);
        break;
      default: {
        const e = decode(r.bytes(), 'MapEntry');
        const k = Buffer.from(String(e['key'] ?? ''), 'base64').toString('utf8');
        const raw = Buffer.from(String(e['value'] ?? ''), 'base64');
        const m = (out[key] ??= {}) as JsonObject;
        if (type === 'stringMap') m[k] = raw.toString('utf8');
        else if (type === 'bytesMap') m[k] = raw.toString('base64');
        else m[k] = (decode(raw, 'ExtraValue')['items'] as unknown[] | undefined) ?? [];
      }
    }
  }
  // Empty strings are what gogo-protobuf writes for unset non-pointer fields; JSON omits them.
  for (const [k, v] of Object.entries(out)) if (v === '') delete out[k];
  return out;
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
