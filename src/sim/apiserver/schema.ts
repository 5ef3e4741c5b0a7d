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
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const p = ownProp(props, k);
    if (root && ROOT_KEEP.has(k)) out[k] = v;
    // PruneNonNullableNullsWithoutDefaults: a null the schema does not allow is dropped.
    else if (p && v === null && p.nullable !== true && p.default === undefined) continue;
    else if (p) out[k] = pruneAndDefault(v, p, join(path, k), unknown);
    else if (isObject(addl)) out[k] = pruneAndDefault(v, addl, join(path, k), unknown);
    else if (keepsUnknownFields(schema)) out[k] = v;
    else unknown.push(join(path, k));
  }
  if (props) fillDefaults(out, props, path);
  return out;
}

/** A schema keeps the fields it does not name when it says so, or when it has no structure at all. */
function keepsUnknownFields(schema: Schema): boolean {
  return schema['x-kubernetes-preserve-unknown-fields'] === true || schema.additionalProperties === true || (!schema.properties && !schema.type);
}

/** Fills each property with a default that is absent, or null where null is not allowed. */
function fillDefaults(out: Record<string, unknown>, props: Record<string, Schema>, path: string): void {
  for (const [k, p] of Object.entries(props)) {
    if (p.default === undefined) continue;
    if (out[k] === undefined) out[k] = pruneAndDefault(structuredClone(p.default), p, join(path, k), []);
    else if (out[k] === null && p.nullable !== true) out[k] = structuredClone(p.default);
  }
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

/** Where a check reports: the field's path, and the list its causes go to. */
interface At {
  path: string;
  causes: StatusCause[];
}

function bad(at: At, message: string, reason = 'FieldValueInvalid'): void {
  at.causes.push({ reason, message, field: at.path });
}

/** Validates `value` against `schema`, appending field errors to `causes`. */
export function validate(value: unknown, schema: Schema, path: string, causes: StatusCause[]): void {
  const at: At = { path, causes };
  if (!typeAccepted(value, schema, at)) return;
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    bad(at, `Unsupported value: ${repr(value)}: supported values: ${schema.enum.map((e) => repr(e)).join(', ')}`, 'FieldValueNotSupported');
  }
  if (typeof value === 'number') numberChecks(value, schema, at);
  else if (typeof value === 'string') stringChecks(value, schema, at);
  else if (Array.isArray(value)) arrayChecks(value, schema, at);
  else if (isObject(value)) objectChecks(value, schema, at);
  combinatorChecks(value, schema, at);
}

/** nullable, x-kubernetes-int-or-string and type; false when the value is checked no further. */
function typeAccepted(value: unknown, schema: Schema, at: At): boolean {
  const { path } = at;
  if (value === null) {
    if (!schema.nullable && schema.type) bad(at, `Invalid value: "null": ${path} in body must be of type ${schema.type}: "null"`, 'FieldValueTypeInvalid');
    return false;
  }
  if (schema['x-kubernetes-int-or-string']) {
    if (typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value))) return true;
    bad(at, `Invalid value: ${repr(value)}: ${path} in body must be of type integer,string: "${typeName(value)}"`, 'FieldValueTypeInvalid');
    return false;
  }
  if (!schema.type || typeMatches(value, schema.type)) return true;
  bad(at, `Invalid value: "${typeName(value)}": ${path} in body must be of type ${schema.type}: "${typeName(value)}"`, 'FieldValueTypeInvalid');
  return false;
}

/** maximum, minimum (each maybe exclusive), multipleOf. */
function numberChecks(value: number, schema: Schema, at: At): void {
  const { maximum, minimum, multipleOf } = schema;
  if (maximum !== undefined && (schema.exclusiveMaximum ? value >= maximum : value > maximum)) {
    bad(at, `Invalid value: ${value}: ${at.path} in body should be less than ${schema.exclusiveMaximum ? '' : 'or equal to '}${maximum}`);
  }
  if (minimum !== undefined && (schema.exclusiveMinimum ? value <= minimum : value < minimum)) {
    bad(at, `Invalid value: ${value}: ${at.path} in body should be greater than ${schema.exclusiveMinimum ? '' : 'or equal to '}${minimum}`);
  }
  if (multipleOf !== undefined && value % multipleOf !== 0) bad(at, `Invalid value: ${value}: ${at.path} in body should be a multiple of ${multipleOf}`);
}

/** maxLength, minLength (in characters, as kube-openapi counts them: runes), pattern. */
function stringChecks(value: string, schema: Schema, at: At): void {
  // eslint-disable-next-line @typescript-eslint/no-misused-spread -- code points are the unit wanted: Go's utf8.RuneCountInString
  const len = [...value].length;
  if (schema.maxLength !== undefined && len > schema.maxLength) bad(at, `Too long: may not be more than ${schema.maxLength} bytes`, 'FieldValueTooLong');
  if (schema.minLength !== undefined && len < schema.minLength) bad(at, `Invalid value: ${repr(value)}: ${at.path} in body should be at least ${schema.minLength} chars long`);
  if (schema.pattern !== undefined && !regex(schema.pattern).test(value)) bad(at, `Invalid value: ${repr(value)}: ${at.path} in body should match '${schema.pattern}'`);
}

/** maxItems, minItems, then each item against `items`. */
function arrayChecks(value: unknown[], schema: Schema, at: At): void {
  if (schema.maxItems !== undefined && value.length > schema.maxItems) bad(at, `Too many: ${value.length}: must have at most ${schema.maxItems} items`, 'FieldValueTooMany');
  if (schema.minItems !== undefined && value.length < schema.minItems) bad(at, `Invalid value: ${value.length}: ${at.path} in body should have at least ${schema.minItems} items`);
  const items = schema.items;
  if (items) value.forEach((v, i) => validate(v, items, `${at.path}[${i}]`, at.causes));
}

/** required, maxProperties, minProperties, then each member against its property schema. */
function objectChecks(value: Record<string, unknown>, schema: Schema, at: At): void {
  for (const r of schema.required ?? []) {
    if (value[r] === undefined) at.causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: join(at.path, r) });
  }
  const n = Object.keys(value).length;
  if (schema.maxProperties !== undefined && n > schema.maxProperties) bad(at, `Too many: ${n}: must have at most ${schema.maxProperties} items`, 'FieldValueTooMany');
  if (schema.minProperties !== undefined && n < schema.minProperties) bad(at, `Invalid value: ${n}: ${at.path} in body should have at least ${schema.minProperties} properties`);
  const addl = schema.additionalProperties;
  for (const [k, v] of Object.entries(value)) {
    const p = ownProp(schema.properties, k) ?? (isObject(addl) ? addl : undefined);
    if (p) validate(v, p, join(at.path, k), at.causes);
  }
}

/** allOf, anyOf, oneOf. */
function combinatorChecks(value: unknown, schema: Schema, at: At): void {
  const { path } = at;
  for (const sub of schema.allOf ?? []) validate(value, sub, path, at.causes);
  if (schema.anyOf && !schema.anyOf.some((s) => wouldPass(value, s, path))) bad(at, `Invalid value: ${repr(value)}: ${path} in body must match at least one schema in anyOf`);
  if (schema.oneOf && schema.oneOf.filter((s) => wouldPass(value, s, path)).length !== 1) bad(at, `Invalid value: ${repr(value)}: ${path} in body must validate one and only one schema (oneOf)`);
}

function wouldPass(value: unknown, schema: Schema, path: string): boolean {
  const c: StatusCause[] = [];
  validate(value, schema, path, c);
  return c.length === 0;
}

/** The members other than apiVersion, kind and metadata, which the store checks itself. */
function withoutRootKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !ROOT_KEEP.has(k)));
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
  const body = withoutRootKeys(out);
  validate(body, { ...schema, properties: withoutRootKeys(schema.properties ?? {}), required: (schema.required ?? []).filter((r) => !ROOT_KEEP.has(r)) }, '', causes);
  listTypeCauses(body, schema, '', causes);
  celCauses(out, old, schema, causes, warnings);
  return { obj: out, unknownFields, causes };
}
