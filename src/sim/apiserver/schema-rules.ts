// The checks of a custom resource that follow the OpenAPI validation, in the real server's
// order (apiextensions-apiserver customResourceValidator): x-kubernetes-list-type map/set
// uniqueness, then the CEL rules (x-kubernetes-validations, through src/cel) unless an earlier
// error makes them meaningless. Also the CRD-side check: rules that do not compile reject the
// CRD at create/update, as the real server's type check does.

import { RULE_REASONS, ownProp, type RuleViolation, type ValidationRule, compileSchemaRules } from '../../cel/index.js';
import type { StatusCause } from './errors.js';
import type { Schema } from './schema.js';
import { type KubeObject, isObject } from './types.js';

/** Go's %#v of a decoded JSON value, as field.Duplicate prints a map key set. */
function goValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[]interface {}{${v.map(goValue).join(', ')}}`;
  const o = v as Record<string, unknown>;
  return `map[string]interface {}{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${goValue(o[k])}`).join(', ')}}`;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** structurallisttype.ValidateListSetsAndMaps: duplicates in sets, missing or repeated keys in maps. */
export function listTypeCauses(value: unknown, schema: Schema, path: string, out: StatusCause[]): void {
  if (Array.isArray(value)) {
    const type = schema['x-kubernetes-list-type'];
    if (type === 'set') {
      value.forEach((x, i) => {
        if (value.slice(0, i).some((y) => same(x, y))) out.push({ reason: 'FieldValueDuplicate', message: `Duplicate value: ${goValue(x)}`, field: `${path}[${i}]` });
      });
    } else if (type === 'map') {
      const keys = schema['x-kubernetes-list-map-keys'] ?? [];
      const seen: string[] = [];
      value.forEach((x, i) => {
        if (!isObject(x)) return;
        const missing = keys.filter((k) => x[k] === undefined);
        for (const k of missing) out.push({ reason: 'FieldValueRequired', message: 'Required value', field: `${path}[${i}].${k}` });
        if (missing.length > 0) return;
        const keyValues = Object.fromEntries(keys.map((k) => [k, x[k]]));
        const id = JSON.stringify(keys.map((k) => x[k]));
        if (seen.includes(id)) out.push({ reason: 'FieldValueDuplicate', message: `Duplicate value: ${goValue(keyValues)}`, field: `${path}[${i}]` });
        seen.push(id);
      });
    }
    const items = schema.items;
    if (items) value.forEach((x, i) => listTypeCauses(x, items, `${path}[${i}]`, out));
    return;
  }
  if (!isObject(value)) return;
  for (const [k, v] of Object.entries(value)) {
    const sub = ownProp(schema.properties, k) ?? (isObject(schema.additionalProperties) ? schema.additionalProperties : undefined);
    if (sub) listTypeCauses(v, sub, path === '' ? k : `${path}.${k}`, out);
  }
}

/** OpenAPI errors after which CEL rules are not run (apiextensions hasBlockingErr). */
const BLOCKING = new Set(['FieldValueNotSupported', 'FieldValueRequired', 'FieldValueTooLong', 'FieldValueTooMany', 'FieldValueTypeInvalid']);

function violationCause(v: RuleViolation): StatusCause {
  const field = v.path === '' ? '<nil>' : v.path;
  switch (v.reason) {
    case 'FieldValueForbidden':
      return { reason: v.reason, message: `Forbidden: ${v.detail}`, field };
    case 'FieldValueRequired':
      return { reason: v.reason, message: `Required value: ${v.detail}`, field };
    case 'FieldValueDuplicate':
      return { reason: v.reason, message: `Duplicate value: ${JSON.stringify(v.schemaType)}`, field };
    default:
      return { reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(v.schemaType)}: ${v.detail}`, field };
  }
}

/**
 * Runs the CEL rules of `schema` on `obj` (with `old` on update), appending causes; rules that
 * fail on a value unchanged from `old` only warn (CRD validation ratcheting).
 */
export function celCauses(obj: Record<string, unknown>, old: Record<string, unknown> | undefined, schema: Schema, causes: StatusCause[], warnings: string[] | undefined): void {
  const rules = compileSchemaRules(schema);
  if (rules.empty) return;
  if (causes.some((c) => c.reason !== undefined && BLOCKING.has(c.reason))) {
    causes.push({ reason: 'FieldValueInvalid', message: 'Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation', field: '<nil>' });
    return;
  }
  const { errors, ratcheted } = rules.validate(obj, old);
  causes.push(...errors.map(violationCause));
  for (const v of ratcheted) {
    const c = violationCause(v);
    warnings?.push(`${c.field ?? ''}: ${c.message}`);
  }
}

/** Go's %#v of an apiextensions.ValidationRule, the "value" a real server prints for a bad rule. */
function goRule(r: ValidationRule): string {
  const s = (v: unknown): string => JSON.stringify(typeof v === 'string' ? v : '');
  const ptr = (type: string, v: unknown): string => (v === undefined ? `(*${type})(nil)` : `(*${type})(0xc000a1e0f0)`);
  return `apiextensions.ValidationRule{Rule:${s(r.rule)}, Message:${s(r.message)}, MessageExpression:${s(r.messageExpression)}, Reason:${ptr('apiextensions.FieldValueErrorReason', r.reason)}, FieldPath:${s(r.fieldPath)}, OptionalOldSelf:${ptr('bool', r.optionalOldSelf)}}`;
}

/** Causes for CEL rules of a CRD that do not compile (or name an unknown reason or field). */
export function crdRuleCauses(crd: KubeObject): StatusCause[] {
  const spec = isObject(crd['spec']) ? crd['spec'] : {};
  const versions = Array.isArray(spec['versions']) ? spec['versions'] : [];
  const causes: StatusCause[] = [];
  versions.forEach((v, i) => {
    const holder = isObject(v) && isObject(v['schema']) ? v['schema'] : undefined;
    const schema = holder && isObject(holder['openAPIV3Schema']) ? holder['openAPIV3Schema'] : undefined;
    if (!schema) return;
    for (const issue of compileSchemaRules(schema).issues) {
      const base = `spec.versions[${i}].schema.openAPIV3Schema${issue.schemaPath === '' ? '' : `.${issue.schemaPath}`}`;
      const field = `${base}.x-kubernetes-validations[${issue.index}].${issue.field}`;
      if (issue.kind === 'Required') causes.push({ reason: 'FieldValueRequired', message: `Required value: ${issue.detail}`, field });
      else if (issue.kind === 'NotSupported') {
        causes.push({ reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(issue.detail)}: supported values: ${RULE_REASONS.map((r) => JSON.stringify(r)).join(', ')}`, field });
      } else {
        const value = issue.field === 'rule' || issue.field === 'messageExpression' ? goRule(issue.rule) : JSON.stringify(issue.rule[issue.field] ?? '');
        causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${value}: ${issue.detail}`, field });
      }
    }
  });
  return causes;
}
