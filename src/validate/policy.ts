// validatePolicy: the one gate every policy passes, from a file (`kto validate`) or from the
// cluster (the controller). It gives the API server's verdict offline: structure comes from the
// shared schema through ajv, and the schema's CEL rules (x-kubernetes-validations: label keys,
// selector operators, the endpoint forms the kubelet and gRPC accept) run through the same CEL
// module the embedded API server uses (src/cel). `status` is ignored, as the server ignores it
// on create and update (it has its own subresource).
import { Ajv, type ErrorObject } from 'ajv';
import { LABEL_VALUE_PATTERN, NAME_PATTERN } from '../api/rules.js';
import { type JsonSchema, crdSchema, documentSchema } from '../api/schema.js';
import type { NodeTracingPolicy } from '../api/types.js';
import { compileSchemaRules, ownProp, type RuleViolation } from '../cel/index.js';
import type { FieldError } from './errors.js';

export type ValidationResult =
  | { ok: true; policy: NodeTracingPolicy }
  | { ok: false; errors: FieldError[] };

// strictTypes is off because int-or-string fields carry minimum (numbers) and pattern (strings)
// beside an anyOf of the two types, the shape Kubernetes requires; every other strict check stays.
const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictTypes: false, formats: { 'date-time': true, int32: true } });
for (const keyword of [
  'x-kubernetes-int-or-string',
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
]) {
  ajv.addKeyword({ keyword, schemaType: ['boolean', 'array', 'string'] });
}
const validateStructure = ajv.compile(documentSchema);

const celRules = compileSchemaRules(crdSchema);
if (celRules.issues.length > 0) {
  // A rule in src/api/rules.ts that does not compile would also make the CRD unusable: fail loudly.
  throw new Error(`schema CEL rules do not compile: ${celRules.issues.map((i) => `${i.schemaPath}.x-kubernetes-validations[${i.index}].${i.field}: ${i.detail}`).join('; ')}`);
}

function toPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^[0-9]+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

function describe(value: unknown): string {
  try {
    // JSON.stringify returns undefined for undefined and functions, whatever its type says.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    return JSON.stringify(value) ?? String(value);
  } catch {
    // A YAML alias can build a cycle, and BigInt has no JSON form: still never throw.
    return typeof value === 'object' && value !== null ? '(a cyclic or unprintable value)' : String(value);
  }
}

/** Patterns that read better as the rule they encode. */
const PATTERN_RULES: Record<string, string> = {
  [LABEL_VALUE_PATTERN]: "must be a label value: empty, or at most 63 alphanumeric characters, '-', '_' or '.', starting and ending alphanumeric",
  [NAME_PATTERN]: "must be a lowercase RFC 1123 subdomain: lowercase alphanumeric characters, '-' or '.', starting and ending with an alphanumeric character",
};

function ajvError(e: ErrorObject): FieldError | undefined {
  const path = toPath(e.instancePath);
  const at = (p: string): string => (path ? `${path}.${p}` : p);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { path: at(String(p.missingProperty)), message: 'required field is missing' };
    case 'additionalProperties':
      return { path: at(String(p.additionalProperty)), message: 'unknown field' };
    case 'enum':
      return { path, message: `must be one of ${(p.allowedValues as unknown[]).join(', ')} (got ${describe(e.data)})` };
    case 'const':
      return { path, message: `must be ${describe(p.allowedValue)} (got ${describe(e.data)})` };
    case 'type':
      return { path, message: `must be ${String(p.type)} (got ${describe(e.data)})` };
    case 'minimum':
    case 'maximum':
      return { path, message: `must be ${String(p.comparison)} ${String(p.limit)} (got ${describe(e.data)})` };
    case 'maxLength':
      return { path, message: `must be at most ${String(p.limit)} characters` };
    case 'minLength':
      return { path, message: `must be at least ${String(p.limit)} character(s)` };
    case 'anyOf':
      return { path, message: `matches none of the allowed types (got ${describe(e.data)})` };
    case 'pattern':
      return { path, message: `${PATTERN_RULES[String(p.pattern)] ?? `must match ${String(p.pattern)}`} (got ${describe(e.data)})` };
    default:
      return { path, message: e.message ?? e.keyword };
  }
}

/** Two paths on one branch of the document (one is the other or lies under it). */
function related(a: string, b: string): boolean {
  const under = (x: string, y: string): boolean => x === y || x.startsWith(`${y}.`) || x.startsWith(`${y}[`);
  return under(a, b) || under(b, a);
}

/** The schema's CEL rules, run on the whole document; a rule whose value already broke the
 *  structure says nothing new (and the API server would not run it), so it is dropped. */
function ruleErrors(doc: Record<string, unknown>, structural: FieldError[]): FieldError[] {
  let violations: RuleViolation[];
  try {
    violations = celRules.validate(doc, undefined).errors;
  } catch {
    // Values no JSON parser makes (cycles from YAML aliases, BigInt) cannot reach the server either.
    return structural.length > 0 ? [] : [{ path: '(document)', message: 'holds a value that has no JSON form' }];
  }
  return violations
    .filter((v) => !structural.some((e) => related(e.path, v.path)))
    .map((v) => ({ path: v.path, message: v.detail }));
}

/**
 * The API server drops a null where the schema neither allows null nor has a default, and
 * replaces it by the default where there is one (structural defaulting); either way, null
 * means "unset", so it is dropped here before the checks.
 */
function dropNulls(v: unknown, schema: JsonSchema | undefined): unknown {
  if (Array.isArray(v)) return v.map((x) => dropNulls(x, schema?.items as JsonSchema | undefined));
  if (typeof v !== 'object' || v === null) return v;
  const props = schema?.properties as Record<string, JsonSchema> | undefined;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const sub = ownProp(props, k);
    if (x === null && sub !== undefined && sub['nullable'] !== true && !(Array.isArray(sub['type']) && sub['type'].includes('null'))) continue;
    const value = dropNulls(x, sub ?? (typeof schema?.additionalProperties === 'object' ? (schema.additionalProperties as JsonSchema) : undefined));
    if (k === '__proto__') Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
    else out[k] = value;
  }
  return out;
}

/** Validates a whole NodeTracingPolicy document. Never throws. */
export function validatePolicy(obj: unknown): ValidationResult {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    return { ok: false, errors: [{ path: '(document)', message: 'must be a YAML/JSON object' }] };
  }
  let doc: Record<string, unknown>;
  try {
    const { status: _status, ...rest } = dropNulls(obj, documentSchema) as Record<string, unknown>;
    doc = rest;
  } catch {
    // A cyclic value (a YAML alias to an enclosing node) has no JSON form: nothing can accept it.
    return { ok: false, errors: [{ path: '(document)', message: 'holds a value that refers to itself (a YAML alias cycle)' }] };
  }
  const structural = validateStructure(doc)
    ? []
    : (validateStructure.errors ?? []).map(ajvError).filter((e): e is FieldError => e !== undefined);
  const errors = dedupe([...structural.map(friendly), ...ruleErrors(doc, structural)]);
  return errors.length ? { ok: false, errors } : { ok: true, policy: obj as NodeTracingPolicy };
}

/** Fields whose several schema keywords read better as one rule. */
const FRIENDLY: Record<string, string> = {
  'spec.rollout.maxUnavailable': 'must be an integer >= 1 or a percentage "1%".."100%"',
};

function friendly(e: FieldError): FieldError {
  const rule = FRIENDLY[e.path];
  if (!rule) return e;
  const got = / \(got .*\)$/.exec(e.message)?.[0] ?? '';
  return { path: e.path, message: rule + got };
}

function dedupe(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = `${e.path}\u0000${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
