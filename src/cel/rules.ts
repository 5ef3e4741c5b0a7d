// x-kubernetes-validations: the CEL rules of a structural schema, compiled once per schema and
// evaluated the way apiextensions-apiserver does (pkg/apiserver/schema/cel/validation.go):
//  - every rule of every node with a (non-null) value runs, with `self` bound to that value;
//  - a rule that mentions `oldSelf` is a transition rule: it runs only on update, and only where
//    the old object has a value at the same place (objects and maps correlate by key, lists of
//    x-kubernetes-list-type map by their keys, set by value; atomic lists do not correlate);
//  - ratcheting (CRDValidationRatcheting, on by default since 1.30): a failing rule on a value
//    that did not change from the old object is reported as a warning, not an error;
//  - the failure detail is messageExpression's result, else message, else "failed rule: RULE".
// The embedded API server and `kto validate` both call this, so they cannot disagree.

import { CelEnv, type CelProgram, type ObjectTypes } from './env.js';
import { CelCostError, CelRuntimeError } from './errors.js';
import { declareType, ownProp, type TypedSchema, typedValue } from './schema-types.js';

export const RULE_REASONS = ['FieldValueDuplicate', 'FieldValueForbidden', 'FieldValueInvalid', 'FieldValueRequired'] as const;
export type RuleReason = (typeof RULE_REASONS)[number];

export interface ValidationRule {
  rule?: unknown;
  message?: unknown;
  messageExpression?: unknown;
  fieldPath?: unknown;
  reason?: unknown;
  optionalOldSelf?: unknown;
}

export interface RuleSchema extends TypedSchema {
  properties?: Record<string, RuleSchema>;
  additionalProperties?: boolean | RuleSchema;
  items?: RuleSchema;
  'x-kubernetes-validations'?: ValidationRule[];
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
}

/** A rule that failed (or could not run) on a value. */
export interface RuleViolation {
  /** Field path of the value (`spec.nodeSelector.matchExpressions[0].values`). */
  path: string;
  /** How a real server words it: Invalid (default), Forbidden, Required or Duplicate. */
  reason: RuleReason;
  /** The rule's message (or the evaluation error, worded as the real server does). */
  detail: string;
  /** The schema type of the value at `path` (`string`, `object`, ...), which the server prints as the "value". */
  schemaType: string;
}

/** A problem found when compiling a schema's rules (a CRD is rejected with these). */
export interface RuleCompileIssue {
  /** Path of the schema node, as the CRD validation names it: `properties[spec].properties[x].items`. */
  schemaPath: string;
  index: number;
  field: 'rule' | 'messageExpression' | 'reason' | 'fieldPath' | 'message';
  kind: 'Required' | 'Invalid' | 'NotSupported';
  detail: string;
  rule: ValidationRule;
}

interface CompiledRule {
  source: ValidationRule;
  rule: string;
  program: CelProgram;
  messageProgram: CelProgram | undefined;
  usesOldSelf: boolean;
  fieldPath: string;
  reason: RuleReason;
}

interface CompiledNode {
  rules: CompiledRule[];
  schema: RuleSchema;
}

export interface CompiledSchemaRules {
  /** Why the rules cannot be used (empty when all compiled). */
  readonly issues: RuleCompileIssue[];
  /** True when the schema has no rule at all (validation is then free). */
  readonly empty: boolean;
  /** Runs every rule on `value` (and `old` on update); never throws. */
  validate(value: unknown, old: unknown): { errors: RuleViolation[]; ratcheted: RuleViolation[] };
}

const cache = new WeakMap<object, CompiledSchemaRules>();

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `.a.b` or `.a['b.c']` -> ['a', 'b.c']; undefined when the path is not of that form. */
export function parseFieldPath(p: string): string[] | undefined {
  const out: string[] = [];
  const re = /^(?:\.([A-Za-z_][A-Za-z0-9_]*)|\['((?:[^'\\]|\\.)*)'\])/;
  let rest = p;
  while (rest.length > 0) {
    const m = re.exec(rest);
    if (!m) return undefined;
    out.push(m[1] ?? (m[2] ?? '').replace(/\\(.)/g, '$1'));
    rest = rest.slice(m[0].length);
  }
  return out;
}

function fieldPathExists(schema: RuleSchema, segs: string[]): boolean {
  let cur: RuleSchema = schema;
  for (const s of segs) {
    const addl = isObj(cur.additionalProperties) ? cur.additionalProperties : undefined;
    const next = ownProp(cur.properties, s) ?? addl;
    if (!next) return false;
    cur = next;
  }
  return true;
}

function compileNode(schema: RuleSchema, schemaPath: string, issues: RuleCompileIssue[]): CompiledNode | undefined {
  const list = schema['x-kubernetes-validations'];
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const types: ObjectTypes = [];
  const selfType = declareType(schema, 'Object', types);
  const env = new CelEnv({ self: selfType, oldSelf: selfType }, types);
  const rules: CompiledRule[] = [];
  list.forEach((r: ValidationRule, index) => {
    const issue = (field: RuleCompileIssue['field'], kind: RuleCompileIssue['kind'], detail: string): void => {
      issues.push({ schemaPath, index, field, kind, detail, rule: r });
    };
    const rule = str(r.rule);
    if (rule.trim() === '') {
      issue('rule', 'Required', 'rule is not specified');
      return;
    }
    const reason = r.reason === undefined ? 'FieldValueInvalid' : str(r.reason);
    const reasonOk = (RULE_REASONS as readonly string[]).includes(reason);
    if (!reasonOk) issue('reason', 'NotSupported', reason);
    const fieldPath = str(r.fieldPath);
    const segs = fieldPath === '' ? [] : parseFieldPath(fieldPath);
    if (!segs) issue('fieldPath', 'Invalid', 'fieldPath must be a valid path');
    else if (!fieldPathExists(schema, segs)) issue('fieldPath', 'Invalid', 'fieldPath must be a valid path: does not refer to a valid field in the schema');
    if (typeof r.message === 'string' && r.message !== '' && r.message.trim() === '') issue('message', 'Invalid', 'message must be non-empty if specified');
    else if (typeof r.message === 'string' && /[\n\r]/.test(r.message.trim())) issue('message', 'Invalid', 'message must not contain line breaks');
    const compiled = env.compile(rule, { returns: ['bool'] });
    if (!compiled.ok) issue('rule', 'Invalid', compiled.error);
    let messageProgram: CelProgram | undefined;
    const me = str(r.messageExpression);
    if (me.trim() !== '') {
      const m = env.compile(me, { returns: ['string'] });
      if (m.ok) messageProgram = m.program;
      else issue('messageExpression', 'Invalid', `messageExpression ${m.error}`);
    }
    if (compiled.ok && reasonOk && segs) {
      rules.push({
        source: r,
        rule,
        program: compiled.program,
        messageProgram,
        usesOldSelf: /\boldSelf\b/.test(rule),
        fieldPath: segs.map((s) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? `.${s}` : `[${s}]`)).join(''),
        reason: reason as RuleReason,
      });
    }
  });
  return { rules, schema };
}

/** Compiles every rule under `schema` (cached per schema object). */
export function compileSchemaRules(schema: RuleSchema): CompiledSchemaRules {
  const hit = cache.get(schema);
  if (hit) return hit;
  const issues: RuleCompileIssue[] = [];
  const nodes = new Map<RuleSchema, CompiledNode>();
  const walk = (s: RuleSchema, path: string): void => {
    const node = compileNode(s, path, issues);
    if (node) nodes.set(s, node);
    for (const [k, p] of Object.entries(s.properties ?? {})) if (isObj(p)) walk(p, `${path}.properties[${k}]`);
    if (isObj(s.additionalProperties)) walk(s.additionalProperties, `${path}.additionalProperties`);
    if (isObj(s.items)) walk(s.items, `${path}.items`);
  };
  walk(schema, '');
  const compiled: CompiledSchemaRules = {
    issues: issues.map((i) => ({ ...i, schemaPath: i.schemaPath.replace(/^\./, '') })),
    empty: nodes.size === 0,
    validate: (value, old) => {
      const out = { errors: [] as RuleViolation[], ratcheted: [] as RuleViolation[] };
      if (nodes.size > 0) validateValue(nodes, schema, value, old, '', out);
      return out;
    },
  };
  cache.set(schema, compiled);
  return compiled;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

function schemaTypeName(s: RuleSchema): string {
  return s['x-kubernetes-int-or-string'] ? '' : (s.type ?? '');
}

type Out = { errors: RuleViolation[]; ratcheted: RuleViolation[] };

function runRules(node: CompiledNode, value: unknown, old: unknown, path: string, out: Out): void {
  const unchanged = old !== undefined && deepEqual(value, old);
  const vars: Record<string, unknown> = { self: typedValue(value, node.schema) };
  if (old !== undefined) vars['oldSelf'] = typedValue(old, node.schema);
  const type = schemaTypeName(node.schema);
  for (const r of node.rules) {
    if (r.usesOldSelf && old === undefined) continue;
    let result: unknown;
    try {
      result = r.program.evaluate(vars);
    } catch (e: unknown) {
      out.errors.push({ path, reason: 'FieldValueInvalid', schemaType: type, detail: runtimeDetail(e, r) });
      continue;
    }
    if (result === true) continue;
    if (result !== false) {
      out.errors.push({ path, reason: 'FieldValueInvalid', schemaType: type, detail: `rule did not evaluate to a bool: ${ruleText(r)}` });
      continue;
    }
    const violation: RuleViolation = { path: withFieldPath(path, r.fieldPath), reason: r.reason, schemaType: type, detail: messageOf(r, vars) };
    if (unchanged && !r.usesOldSelf) out.ratcheted.push(violation);
    else out.errors.push(violation);
  }
}

/** `spec.x` + `.values` -> `spec.x.values`; at the root, `.values` -> `values`. */
function withFieldPath(path: string, fieldPath: string): string {
  if (fieldPath === '') return path;
  return path === '' ? fieldPath.replace(/^\./, '') : path + fieldPath;
}

function ruleText(r: CompiledRule): string {
  const m = str(r.source.message).trim();
  return m !== '' ? m : r.rule.trim();
}

function runtimeDetail(e: unknown, r: CompiledRule): string {
  if (e instanceof CelCostError) return `was invalid: rule evaluation exceeded cost budget: ${ruleText(r)}`;
  const msg = e instanceof CelRuntimeError ? e.message : String(e);
  if (msg.startsWith('no such overload')) return `'${msg}': call arguments did not match a supported operator, function or macro signature for rule: ${ruleText(r)}`;
  return `${msg} evaluating rule: ${ruleText(r)}`;
}

function messageOf(r: CompiledRule, vars: Record<string, unknown>): string {
  if (r.messageProgram) {
    try {
      const m = r.messageProgram.evaluate(vars);
      if (typeof m === 'string' && m.trim() !== '' && !/[\n\r]/.test(m)) return m.trim();
    } catch {
      // A failing messageExpression falls back to message, as the real server does.
    }
  }
  const m = str(r.source.message).trim();
  return m !== '' ? m : `failed rule: ${r.rule.trim()}`;
}

function validateValue(nodes: Map<RuleSchema, CompiledNode>, s: RuleSchema, value: unknown, old: unknown, path: string, out: Out): void {
  if (value === null || value === undefined) return;
  const node = nodes.get(s);
  if (node) runRules(node, value, old, path, out);
  if (Array.isArray(value)) {
    const items = s.items;
    if (!isObj(items)) return;
    const oldItems = Array.isArray(old) ? old : undefined;
    value.forEach((v, i) => validateValue(nodes, items, v, oldItems ? correlate(s, v, oldItems) : undefined, `${path}[${i}]`, out));
    return;
  }
  if (!isObj(value)) return;
  const oldObj = isObj(old) ? old : undefined;
  const addl = isObj(s.additionalProperties) ? s.additionalProperties : undefined;
  for (const [k, v] of Object.entries(value)) {
    const sub = ownProp(s.properties, k) ?? addl;
    if (sub) validateValue(nodes, sub, v, oldObj && Object.prototype.hasOwnProperty.call(oldObj, k) ? oldObj[k] : undefined, join(path, k), out);
  }
}

/** The old list item that corresponds to `v`: same keys (list-type map) or equal (set). */
function correlate(s: RuleSchema, v: unknown, oldItems: unknown[]): unknown {
  const type = s['x-kubernetes-list-type'];
  if (type === 'set') return oldItems.find((o) => deepEqual(o, v));
  if (type === 'map' && isObj(v)) {
    const keys = s['x-kubernetes-list-map-keys'] ?? [];
    return oldItems.find((o) => isObj(o) && keys.every((k) => deepEqual(o[k], v[k])));
  }
  return undefined;
}
