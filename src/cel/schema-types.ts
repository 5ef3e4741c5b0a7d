// CEL types of a structural schema, as Kubernetes declares them for `self` in
// x-kubernetes-validations: objects with properties are object types whose fields are checked
// at compile time (`self.nope` is "undefined field 'nope'"), additionalProperties are
// map<string, T>, arrays are list<T>, int-or-string and preserved unknown fields are dyn.
// Values are converted to match: integer fields become BigInt (CEL int), number fields stay
// doubles.

import type { CelTypeName, ObjectTypes } from './env.js';
import { toCel } from './values.js';

/** A property schema by name; never one inherited from Object.prototype (a field named "__proto__"). */
export function ownProp<T>(props: Record<string, T> | undefined, k: string): T | undefined {
  return props !== undefined && Object.prototype.hasOwnProperty.call(props, k) ? props[k] : undefined;
}

/** The part of a structural schema the CEL typing reads. */
export interface TypedSchema {
  type?: string;
  format?: string;
  properties?: Record<string, TypedSchema>;
  additionalProperties?: boolean | TypedSchema;
  items?: TypedSchema;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  [key: string]: unknown;
}

function objectSchema(v: unknown): TypedSchema | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as TypedSchema) : undefined;
}

/**
 * Declares the CEL type of `schema`, registering object types (children first, as cel-js needs)
 * into `types` under names derived from `name`.
 */
export function declareType(schema: TypedSchema, name: string, types: ObjectTypes): CelTypeName {
  if (schema['x-kubernetes-int-or-string']) return 'dyn';
  switch (schema.type) {
    case 'string':
      return 'string';
    case 'integer':
      return 'int';
    case 'number':
      return 'double';
    case 'boolean':
      return 'bool';
    case 'array': {
      const items = objectSchema(schema.items);
      return items ? `list<${declareType(items, `${name}.@items`, types)}>` : 'list<dyn>';
    }
    case 'object': {
      const props = schema.properties;
      const addl = objectSchema(schema.additionalProperties);
      if (props && Object.keys(props).length > 0) {
        const fields: Record<string, CelTypeName> = {};
        for (const [k, p] of Object.entries(props)) fields[k] = declareType(p, `${name}.${k}`, types);
        types.push({ name, fields });
        return name;
      }
      if (addl) return `map<string, ${declareType(addl, `${name}.@values`, types)}>`;
      return 'dyn';
    }
    default:
      return 'dyn';
  }
}

/** A JSON value converted to the CEL representation its schema declares. */
export function typedValue(v: unknown, schema: TypedSchema | undefined): unknown {
  if (!schema || schema['x-kubernetes-int-or-string']) return toCel(v);
  if (schema.type === 'integer' && typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (schema.type === 'number') return v;
  if (Array.isArray(v)) {
    const items = objectSchema(schema.items);
    return v.map((x) => typedValue(x, items));
  }
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    const addl = objectSchema(schema.additionalProperties);
    for (const [k, x] of Object.entries(v)) {
      const sub = ownProp(schema.properties, k) ?? addl;
      const value = sub ? typedValue(x, sub) : toCel(x);
      if (k === '__proto__') Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
      else out[k] = value;
    }
    return out;
  }
  return toCel(v);
}
