// Structural-schema handling for custom resources, in the real server's order: prune unknown
// fields, apply defaults, validate. Messages mimic k8s.io/kube-openapi's validator so a client
// sees `spec.x: Invalid value: 2000000: spec.x in body should be less than or equal to 1000000`.
// Then list-type uniqueness and the CEL rules (x-kubernetes-validations): see schema-rules.ts.

import type { StatusCause } from './errors.js';
import { ownProp } from '../../cel/index.js';
import { celCauses, listTypeCauses } from './schema-rules.js';
import { isObject } from './types.js';

export interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  pattern?: string;
  maxLength?: number;
  minLength?: number;
  maxItems?: number;
  minItems?: number;
  maxProperties?: number;
  minProperties?: number;
  format?: string;
  nullable?: boolean;
  default?: unknown;
  anyOf?: Schema[];
  allOf?: Schema[];
  oneOf?: Schema[];
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  [key: string]: unknown;
}

const ROOT_KEEP = new Set(['apiVersion', 'kind', 'metadata']);

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/**
 * Drops fields the schema does not know (recording their paths) and fills defaults, returning
 * a new value. `root` keeps apiVersion/kind/metadata as the real server does.
 */
export function pruneAndDefault(value: unknown, schema: Schema, path: string, unknown: string[], root = false): unknown {
  if (Array.isArray(value)) {
    const items = schema.items;
    return items ? value.map((v, i) => pruneAndDefault(v, items, `${path}[${i}]`, unknown)) : value;
  }
  if (!isObject(value)) return value;
  const props = schema.properties;
  const addl = schema.additionalProperties;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const p = ownProp(props, k);
    if (root && ROOT_KEEP.has(k)) out[k] = v;
    // PruneNonNullableNullsWithoutDefaults: a null the schema does not allow is dropped.
    else if (p && v === null && p.nullable !== true && p.default === undefined) continue;
    else if (p) out[k] = pruneAndDefault(v, p, join(path, k), unknown);
    else if (isObject(addl)) out[k] = pruneAndDefault(v, addl, join(path, k), unknown);
    else if (preserve || addl === true || (!props && schema.type !== 'object' && !schema.type)) out[k] = v;
    else unknown.push(join(path, k));
  }
  if (props) {
    for (const [k, p] of Object.entries(props)) {
      if (out[k] === undefined && p.default !== undefined) out[k] = pruneAndDefault(structuredClone(p.default), p, join(path, k), []);
      else if (out[k] === null && p.default !== undefined && p.nullable !== true) out[k] = structuredClone(p.default);
    }
  }
  return out;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function repr(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null) return 'null';
  return `"${typeName(v)}"`;
}

function typeMatches(v: unknown, t: string): boolean {
  switch (t) {
    case 'object':
      return isObject(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    default:
      return true;
  }
}

const regexCache = new Map<string, RegExp>();
function regex(p: string): RegExp {
  let r = regexCache.get(p);
  if (!r) {
    r = new RegExp(p, 'u');
    regexCache.set(p, r);
  }
  return r;
}

/** Validates `value` against `schema`, appending field errors to `causes`. */
export function validate(value: unknown, schema: Schema, path: string, causes: StatusCause[]): void {
  const bad = (message: string, reason = 'FieldValueInvalid'): void => {
    causes.push({ reason, message, field: path });
  };
  if (value === null) {
    if (schema.nullable) return;
    if (schema.type) bad(`Invalid value: "null": ${path} in body must be of type ${schema.type}: "null"`, 'FieldValueTypeInvalid');
    return;
  }
  if (schema['x-kubernetes-int-or-string']) {
    if (!(typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)))) {
      bad(`Invalid value: ${repr(value)}: ${path} in body must be of type integer,string: "${typeName(value)}"`, 'FieldValueTypeInvalid');
      return;
    }
  } else if (schema.type && !typeMatches(value, schema.type)) {
    bad(`Invalid value: "${typeName(value)}": ${path} in body must be of type ${schema.type}: "${typeName(value)}"`, 'FieldValueTypeInvalid');
    return;
  }
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    bad(`Unsupported value: ${repr(value)}: supported values: ${schema.enum.map((e) => repr(e)).join(', ')}`, 'FieldValueNotSupported');
  }
  if (typeof value === 'number') {
    if (schema.maximum !== undefined) {
      if (schema.exclusiveMaximum ? value >= schema.maximum : value > schema.maximum) {
        bad(`Invalid value: ${value}: ${path} in body should be less than ${schema.exclusiveMaximum ? '' : 'or equal to '}${schema.maximum}`);
      }
    }
    if (schema.minimum !== undefined) {
      if (schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum) {
        bad(`Invalid value: ${value}: ${path} in body should be greater than ${schema.exclusiveMinimum ? '' : 'or equal to '}${schema.minimum}`);
      }
    }
    if (schema.multipleOf !== undefined && value % schema.multipleOf !== 0) bad(`Invalid value: ${value}: ${path} in body should be a multiple of ${schema.multipleOf}`);
  }
  if (typeof value === 'string') {
    const len = [...value].length;
    if (schema.maxLength !== undefined && len > schema.maxLength) bad(`Too long: may not be more than ${schema.maxLength} bytes`, 'FieldValueTooLong');
    if (schema.minLength !== undefined && len < schema.minLength) bad(`Invalid value: ${repr(value)}: ${path} in body should be at least ${schema.minLength} chars long`);
    if (schema.pattern !== undefined && !regex(schema.pattern).test(value)) bad(`Invalid value: ${repr(value)}: ${path} in body should match '${schema.pattern}'`);
  }
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) bad(`Too many: ${value.length}: must have at most ${schema.maxItems} items`, 'FieldValueTooMany');
    if (schema.minItems !== undefined && value.length < schema.minItems) bad(`Invalid value: ${value.length}: ${path} in body should have at least ${schema.minItems} items`);
    if (schema.items) {
      const items = schema.items;
      value.forEach((v, i) => validate(v, items, `${path}[${i}]`, causes));
    }
  }
  if (isObject(value)) {
    for (const r of schema.required ?? []) {
      if (value[r] === undefined) causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: join(path, r) });
    }
    const n = Object.keys(value).length;
    if (schema.maxProperties !== undefined && n > schema.maxProperties) bad(`Too many: ${n}: must have at most ${schema.maxProperties} items`, 'FieldValueTooMany');
    if (schema.minProperties !== undefined && n < schema.minProperties) bad(`Invalid value: ${n}: ${path} in body should have at least ${schema.minProperties} properties`);
    for (const [k, v] of Object.entries(value)) {
      const p = ownProp(schema.properties, k);
      if (p) validate(v, p, join(path, k), causes);
      else if (isObject(schema.additionalProperties)) validate(v, schema.additionalProperties, join(path, k), causes);
    }
  }
  for (const sub of schema.allOf ?? []) validate(value, sub, path, causes);
  if (schema.anyOf && !schema.anyOf.some((s) => wouldPass(value, s, path))) bad(`Invalid value: ${repr(value)}: ${path} in body must match at least one schema in anyOf`);
  if (schema.oneOf && schema.oneOf.filter((s) => wouldPass(value, s, path)).length !== 1) bad(`Invalid value: ${repr(value)}: ${path} in body must validate one and only one schema (oneOf)`);
}

function wouldPass(value: unknown, schema: Schema, path: string): boolean {
  const c: StatusCause[] = [];
  validate(value, schema, path, c);
  return c.length === 0;
}

/**
 * Prunes, defaults and validates a custom resource (with `old`, the stored object, on update:
 * transition rules and ratcheting need it). Root-level metadata is left to the store.
 */
export function processCustomResource(
  obj: Record<string, unknown>,
  schema: Schema,
  old?: Record<string, unknown>,
  warnings?: string[],
): { obj: Record<string, unknown>; unknownFields: string[]; causes: StatusCause[] } {
  const unknownFields: string[] = [];
  const pruned = pruneAndDefault(obj, schema, '', unknownFields, true);
  const out = isObject(pruned) ? pruned : {};
  const causes: StatusCause[] = [];
  const { metadata: _m, apiVersion: _a, kind: _k, ...body } = out;
  const rootProps = { ...(schema.properties ?? {}) };
  delete rootProps['metadata'];
  delete rootProps['apiVersion'];
  delete rootProps['kind'];
  validate(body, { ...schema, properties: rootProps, required: (schema.required ?? []).filter((r) => !ROOT_KEEP.has(r)) }, '', causes);
  listTypeCauses(body, schema, '', causes);
  celCauses(out, old, schema, causes, warnings);
  return { obj: out, unknownFields, causes };
}
