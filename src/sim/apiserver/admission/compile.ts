// Compiling a ValidatingAdmissionPolicy's expressions, as the real server type-checks them when
// the policy is written: matchConditions, variables (each may use the ones before it),
// validations (expression, messageExpression) and auditAnnotations. The result serves both the
// 422 on a bad policy (`issues`, with the field path of each expression) and evaluation.

import { CelEnv, type CelProgram, type ObjectTypes } from '../../../cel/index.js';

/** The declared shape of `request` (admission.k8s.io/v1 AdmissionRequest), so typos fail to compile. */
const REQUEST_TYPES: ObjectTypes = [
  { name: 'k8s.GroupVersionKind', fields: { group: 'string', version: 'string', kind: 'string' } },
  { name: 'k8s.GroupVersionResource', fields: { group: 'string', version: 'string', resource: 'string' } },
  { name: 'k8s.UserInfo', fields: { username: 'string', uid: 'string', groups: 'list<string>', extra: 'map<string, list<string>>' } },
  {
    name: 'k8s.AdmissionRequest',
    fields: {
      uid: 'string',
      kind: 'k8s.GroupVersionKind',
      resource: 'k8s.GroupVersionResource',
      subResource: 'string',
      requestKind: 'k8s.GroupVersionKind',
      requestResource: 'k8s.GroupVersionResource',
      requestSubResource: 'string',
      name: 'string',
      namespace: 'string',
      operation: 'string',
      userInfo: 'k8s.UserInfo',
      dryRun: 'bool',
      options: 'dyn',
    },
  },
];

const BASE_VARS = {
  object: 'dyn',
  oldObject: 'dyn',
  request: 'k8s.AdmissionRequest',
  params: 'dyn',
  namespaceObject: 'dyn',
  // Declared so that policies using it compile as on a real server; evaluating it fails (the
  // embedded server has no authorizer check from CEL), which failurePolicy then decides.
  authorizer: 'dyn',
};

export interface CompileIssue {
  field: string;
  kind: 'Required' | 'Invalid';
  value: string;
  detail: string;
}

export interface CompiledValidation {
  program: CelProgram;
  expression: string;
  message: string;
  messageProgram: CelProgram | undefined;
  reason: string | undefined;
}

export interface CompiledPolicy {
  matchConditions: Array<{ name: string; program: CelProgram; expression: string }>;
  variables: Array<{ name: string; program: CelProgram; expression: string }>;
  validations: CompiledValidation[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.map((x) => (isObj(x) ? x : {})) : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** `variables` is an object of the variables declared so far, so a later or unknown one fails to compile. */
function envWith(variableNames: string[]): CelEnv {
  const types: ObjectTypes = [...REQUEST_TYPES, { name: 'k8s.Variables', fields: Object.fromEntries(variableNames.map((n) => [n, 'dyn'])) }];
  return new CelEnv({ ...BASE_VARS, variables: 'k8s.Variables' }, types);
}

/** Compiles every expression of a policy spec; `issues` is empty when the policy is usable. */
export function compilePolicy(spec: Obj): { compiled: CompiledPolicy; issues: CompileIssue[] } {
  const issues: CompileIssue[] = [];
  const compiled: CompiledPolicy = { matchConditions: [], variables: [], validations: [] };
  const compile = (env: CelEnv, expression: unknown, field: string, returns: string[] | undefined): CelProgram | undefined => {
    const text = str(expression);
    if (text.trim() === '') {
      issues.push({ field, kind: 'Required', value: '', detail: `${field.split('.').pop() === 'valueExpression' ? 'valueExpression' : 'expression'} is not specified` });
      return undefined;
    }
    const r = env.compile(text, returns ? { returns } : {});
    if (r.ok) return r.program;
    issues.push({ field, kind: 'Invalid', value: text, detail: r.error });
    return undefined;
  };

  const base = envWith([]);
  list(spec['matchConditions']).forEach((c, i) => {
    const p = compile(base, c['expression'], `spec.matchConditions[${i}].expression`, ['bool']);
    if (p) compiled.matchConditions.push({ name: str(c['name']), program: p, expression: str(c['expression']) });
  });

  const names: string[] = [];
  list(spec['variables']).forEach((v, i) => {
    const name = str(v['name']);
    const p = compile(envWith(names), v['expression'], `spec.variables[${i}].expression`, undefined);
    if (p) compiled.variables.push({ name, program: p, expression: str(v['expression']) });
    names.push(name);
  });

  const full = envWith(names);
  list(spec['validations']).forEach((v, i) => {
    const p = compile(full, v['expression'], `spec.validations[${i}].expression`, ['bool']);
    let messageProgram: CelProgram | undefined;
    const me = str(v['messageExpression']);
    if (me.trim() !== '') {
      const r = full.compile(me, { returns: ['string'] });
      if (r.ok) messageProgram = r.program;
      else issues.push({ field: `spec.validations[${i}].messageExpression`, kind: 'Invalid', value: me, detail: r.error });
    }
    if (p) {
      compiled.validations.push({
        program: p,
        expression: str(v['expression']),
        message: str(v['message']).trim(),
        messageProgram,
        reason: typeof v['reason'] === 'string' ? v['reason'] : undefined,
      });
    }
  });

  list(spec['auditAnnotations']).forEach((a, i) => {
    compile(full, a['valueExpression'], `spec.auditAnnotations[${i}].valueExpression`, ['string', 'null']);
  });
  return { compiled, issues };
}
