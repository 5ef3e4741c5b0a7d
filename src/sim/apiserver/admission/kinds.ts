// admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding:
// their registration (when the built-in list does not have them yet), the defaults the real
// server fills in, and the checks that reject a bad policy or binding with 422.

import { type StatusCause } from '../errors.js';
import type { Registry, ResourceDef } from '../registry.js';
import { type KubeObject, type ResourceRef, isObject, scalarText } from '../types.js';
import { compilePolicy } from './compile.js';

export const VAP: ResourceRef = { group: 'admissionregistration.k8s.io', version: 'v1', resource: 'validatingadmissionpolicies' };
export const VAPB: ResourceRef = { group: 'admissionregistration.k8s.io', version: 'v1', resource: 'validatingadmissionpolicybindings' };

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function def(ref: ResourceRef, kind: string, hasStatus: boolean): ResourceDef {
  return { ...ref, kind, listKind: `${kind}List`, singular: kind.toLowerCase(), namespaced: false, shortNames: [], categories: ['api-extensions'], verbs: VERBS, hasStatus, returnDeletedObject: false };
}

/** Serves the two kinds unless the registry already does (kept apart so it merges with the built-in list). */
export function registerAdmissionKinds(registry: Registry): void {
  if (!registry.get(VAP)) registry.addBuiltin(def(VAP, 'ValidatingAdmissionPolicy', true));
  if (!registry.get(VAPB)) registry.addBuiltin(def(VAPB, 'ValidatingAdmissionPolicyBinding', false));
}

export function isAdmissionKind(d: ResourceRef): boolean {
  return d.group === VAP.group && (d.resource === VAP.resource || d.resource === VAPB.resource);
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (isObject(v) ? v : {});

/** SetDefaults_ValidatingAdmissionPolicySpec / MatchResources / NamedRuleWithOperations. */
export function withDefaults(o: KubeObject): KubeObject {
  const spec = { ...obj(o['spec']) };
  const fill = (m: Obj): Obj => {
    const out = { ...m };
    out['matchPolicy'] ??= 'Equivalent';
    out['namespaceSelector'] ??= {};
    out['objectSelector'] ??= {};
    for (const k of ['resourceRules', 'excludeResourceRules']) {
      if (Array.isArray(out[k])) out[k] = (out[k] as unknown[]).map((r) => (isObject(r) ? { scope: '*', ...r } : r));
    }
    return out;
  };
  if (o.kind === 'ValidatingAdmissionPolicy') {
    spec['failurePolicy'] ??= 'Fail';
    if (isObject(spec['matchConstraints'])) spec['matchConstraints'] = fill(spec['matchConstraints']);
  } else if (isObject(spec['matchResources'])) {
    spec['matchResources'] = fill(spec['matchResources']);
  }
  return { ...o, spec };
}

const REASONS = ['Forbidden', 'Invalid', 'RequestEntityTooLarge', 'Unauthorized'];
const OPERATIONS = ['*', 'CONNECT', 'CREATE', 'DELETE', 'UPDATE'];
const CEL_IDENT = /^[_a-zA-Z][_a-zA-Z0-9]*$/;
const QUALIFIED = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

function required(field: string, detail = ''): StatusCause {
  return { reason: 'FieldValueRequired', message: detail ? `Required value: ${detail}` : 'Required value', field };
}

function notSupported(field: string, v: unknown, allowed: string[]): StatusCause {
  return { reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(v)}: supported values: ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, field };
}

function rulesCauses(rules: unknown, field: string, requireList: boolean): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!Array.isArray(rules) || rules.length === 0) {
    if (requireList) causes.push(required(field));
    return causes;
  }
  rules.forEach((r, i) => {
    const rule = obj(r);
    const at = `${field}[${i}]`;
    for (const k of ['apiGroups', 'apiVersions', 'resources', 'operations']) {
      if (!Array.isArray(rule[k]) || (rule[k] as unknown[]).length === 0) causes.push(required(`${at}.${k}`));
    }
    (Array.isArray(rule['operations']) ? rule['operations'] : []).forEach((op, j) => {
      if (!OPERATIONS.includes(String(op))) causes.push(notSupported(`${at}.operations[${j}]`, op, OPERATIONS));
    });
  });
  return causes;
}

function policyCauses(o: KubeObject): StatusCause[] {
  const spec = obj(o['spec']);
  const causes: StatusCause[] = [];
  if (!['Fail', 'Ignore'].includes(String(spec['failurePolicy']))) causes.push(notSupported('spec.failurePolicy', spec['failurePolicy'], ['Fail', 'Ignore']));
  if (!isObject(spec['matchConstraints'])) causes.push(required('spec.matchConstraints'));
  else {
    const m = spec['matchConstraints'];
    causes.push(...rulesCauses(m['resourceRules'], 'spec.matchConstraints.resourceRules', true));
    causes.push(...rulesCauses(m['excludeResourceRules'], 'spec.matchConstraints.excludeResourceRules', false));
    if (!['Exact', 'Equivalent'].includes(String(m['matchPolicy']))) causes.push(notSupported('spec.matchConstraints.matchPolicy', m['matchPolicy'], ['Equivalent', 'Exact']));
  }
  const validations = Array.isArray(spec['validations']) ? spec['validations'] : [];
  const audits = Array.isArray(spec['auditAnnotations']) ? spec['auditAnnotations'] : [];
  if (validations.length === 0 && audits.length === 0) causes.push(required('spec.validations', 'validations or auditAnnotations must contain at least one item'));
  validations.forEach((v, i) => {
    const val = obj(v);
    const msg = typeof val['message'] === 'string' ? val['message'] : '';
    if (msg !== '' && msg.trim() === '') causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(msg)}: message must be non-empty if specified`, field: `spec.validations[${i}].message` });
    else if (/[\r\n]/.test(msg.trim())) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(msg)}: message must not contain line breaks`, field: `spec.validations[${i}].message` });
    if (val['reason'] !== undefined && !REASONS.includes(scalarText(val['reason']))) causes.push(notSupported(`spec.validations[${i}].reason`, val['reason'], REASONS));
  });
  const seenConditions = new Set<string>();
  (Array.isArray(spec['matchConditions']) ? spec['matchConditions'] : []).forEach((c, i) => {
    const name = scalarText(obj(c)['name']);
    const at = `spec.matchConditions[${i}].name`;
    if (name === '') causes.push(required(at));
    else if (!QUALIFIED.test(name)) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(name)}: name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`, field: at });
    else if (seenConditions.has(name)) causes.push({ reason: 'FieldValueDuplicate', message: `Duplicate value: ${JSON.stringify(name)}`, field: at });
    seenConditions.add(name);
  });
  const seenVars = new Set<string>();
  (Array.isArray(spec['variables']) ? spec['variables'] : []).forEach((v, i) => {
    const name = scalarText(obj(v)['name']);
    const at = `spec.variables[${i}].name`;
    if (name === '') causes.push(required(at, 'name is not specified'));
    else if (!CEL_IDENT.test(name)) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(name)}: name is not a valid CEL identifier`, field: at });
    else if (seenVars.has(name)) causes.push({ reason: 'FieldValueDuplicate', message: `Duplicate value: ${JSON.stringify(name)}`, field: at });
    seenVars.add(name);
  });
  for (const issue of compilePolicy(spec).issues) {
    causes.push(issue.kind === 'Required' ? required(issue.field, issue.detail) : { reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(issue.value)}: ${issue.detail}`, field: issue.field });
  }
  return causes;
}

const ACTIONS = ['Audit', 'Deny', 'Warn'];

function bindingCauses(o: KubeObject): StatusCause[] {
  const spec = obj(o['spec']);
  const causes: StatusCause[] = [];
  if (typeof spec['policyName'] !== 'string' || spec['policyName'] === '') causes.push(required('spec.policyName'));
  const actions = Array.isArray(spec['validationActions']) ? spec['validationActions'] : [];
  if (actions.length === 0) causes.push(required('spec.validationActions', 'at least one validation action is required'));
  actions.forEach((a, i) => {
    if (!ACTIONS.includes(String(a))) causes.push(notSupported(`spec.validationActions[${i}]`, a, ACTIONS));
    else if (actions.indexOf(a) !== i) causes.push({ reason: 'FieldValueDuplicate', message: `Duplicate value: ${JSON.stringify(a)}`, field: `spec.validationActions[${i}]` });
  });
  if (actions.includes('Deny') && actions.includes('Warn')) {
    causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${goList(actions)}: must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)`, field: 'spec.validationActions' });
  }
  if (isObject(spec['matchResources'])) {
    causes.push(...rulesCauses(spec['matchResources']['resourceRules'], 'spec.matchResources.resourceRules', false));
    causes.push(...rulesCauses(spec['matchResources']['excludeResourceRules'], 'spec.matchResources.excludeResourceRules', false));
  }
  return causes;
}

function goList(v: unknown[]): string {
  return `[]admissionregistration.ValidationAction{${v.map((x) => JSON.stringify(x)).join(', ')}}`;
}

/** The 422 causes for a policy or binding as written (after defaults). */
export function admissionObjectCauses(o: KubeObject): StatusCause[] {
  return o.kind === 'ValidatingAdmissionPolicy' ? policyCauses(o) : bindingCauses(o);
}
