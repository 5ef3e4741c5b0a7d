// validatePolicy: the one gate every policy passes, from a file (`kto validate`) or from the
// cluster (the controller). Structure comes from the shared schema through ajv; the rules a
// JSON schema cannot say (the kubelet's endpoint rule, label selector rules, percentages) follow.
import { Ajv, type ErrorObject } from 'ajv';
import { documentSchema } from '../api/schema.js';
import type { LabelSelector, NodeTracingPolicy } from '../api/types.js';
import { endpointProblem } from './endpoint.js';
import type { FieldError } from './errors.js';
import { selectorErrors } from './selector.js';

export type ValidationResult =
  | { ok: true; policy: NodeTracingPolicy }
  | { ok: false; errors: FieldError[] };

// strictTypes is off because int-or-string fields carry minimum (numbers) and pattern (strings)
// beside an anyOf of the two types, the shape Kubernetes requires; every other strict check stays.
const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictTypes: false, formats: { 'date-time': true } });
for (const keyword of [
  'x-kubernetes-int-or-string',
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
]) {
  ajv.addKeyword({ keyword, schemaType: ['boolean', 'array', 'string'] });
}
const validateStructure = ajv.compile(documentSchema);

function toPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^[0-9]+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // A YAML alias can build a cycle, and BigInt has no JSON form: still never throw.
    return typeof value === 'object' && value !== null ? '(a cyclic or unprintable value)' : String(value);
  }
}

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
      return { path, message: `must match ${String(p.pattern)} (got ${describe(e.data)})` };
    default:
      return { path, message: e.message ?? e.keyword };
  }
}

type Loose = { spec?: { tracing?: { endpoint?: unknown }; nodeSelector?: unknown } };

/** Rules beyond the schema. Runs on structurally invalid input too (every check is type-guarded),
 *  so one run reports every problem. */
function semanticErrors(policy: Loose, structural: FieldError[]): FieldError[] {
  const errors: FieldError[] = [];
  const endpoint = policy.spec?.tracing?.endpoint;
  if (typeof endpoint === 'string') {
    const problem = endpointProblem(endpoint);
    if (problem) errors.push({ path: 'spec.tracing.endpoint', message: problem });
  }
  const sel = policy.spec?.nodeSelector;
  // Selector rules need a well-typed selector: skip them where the schema already complained.
  if (sel !== undefined && !structural.some((e) => e.path.startsWith('spec.nodeSelector'))) {
    errors.push(...selectorErrors(sel as LabelSelector, 'spec.nodeSelector'));
  }
  return errors;
}

/** Validates a whole NodeTracingPolicy document. Never throws. */
export function validatePolicy(obj: unknown): ValidationResult {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    return { ok: false, errors: [{ path: '(document)', message: 'must be a YAML/JSON object' }] };
  }
  const structural = validateStructure(obj)
    ? []
    : (validateStructure.errors ?? []).map(ajvError).filter((e): e is FieldError => e !== undefined);
  const errors = dedupe([...structural.map(friendly), ...semanticErrors(obj as Loose, structural)]);
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
