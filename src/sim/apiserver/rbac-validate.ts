// Defaulting and validation of Roles, ClusterRoles and their bindings, as the real server does
// (pkg/apis/rbac/v1/defaults.go, pkg/apis/rbac/validation/validation.go): required rule fields,
// subjects, roleRef (immutable once set).

import type { StatusCause } from './errors.js';
import { type JsonObject, type KubeObject, isObject } from './types.js';

const GROUP = 'rbac.authorization.k8s.io';

const required = (field: string, detail = ''): StatusCause => ({ reason: 'FieldValueRequired', field, message: detail ? `Required value: ${detail}` : 'Required value' });
const notSupported = (field: string, value: string, values: string[]): StatusCause => ({ reason: 'FieldValueNotSupported', field, message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${values.map((v) => JSON.stringify(v)).join(', ')}` });
const goStrings = (v: string[]): string => `[]string{${v.map((s) => JSON.stringify(s)).join(', ')}}`;
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** path.IsValidPathSegmentName: what RBAC object names (e.g. `system:discovery`) must satisfy. */
export function pathSegmentNameErrors(name: string): string[] {
  if (name === '.' || name === '..') return [`may not be '${name}'`];
  const errs: string[] = [];
  for (const c of ['/', '%']) if (name.includes(c)) errs.push(`may not contain '${c}'`);
  return errs;
}

function validateRule(r: JsonObject, namespaced: boolean, path: string, causes: StatusCause[]): void {
  const verbs = strs(r['verbs']);
  const urls = strs(r['nonResourceURLs']);
  if (verbs.length === 0) causes.push(required(`${path}.verbs`, 'verbs must contain at least one value'));
  if (urls.length > 0) {
    if (namespaced) causes.push({ reason: 'FieldValueInvalid', field: `${path}.nonResourceURLs`, message: `Invalid value: ${goStrings(urls)}: namespaced rules cannot apply to non-resource URLs` });
    if (strs(r['apiGroups']).length > 0 || strs(r['resources']).length > 0 || strs(r['resourceNames']).length > 0) {
      causes.push({ reason: 'FieldValueInvalid', field: `${path}.nonResourceURLs`, message: `Invalid value: ${goStrings(urls)}: rules cannot apply to both regular resources and non-resource URLs` });
    }
    return;
  }
  if (strs(r['apiGroups']).length === 0) causes.push(required(`${path}.apiGroups`, 'resource rules must supply at least one api group'));
  if (strs(r['resources']).length === 0) causes.push(required(`${path}.resources`, 'resource rules must supply at least one resource'));
  if (strs(r['resourceNames']).length > 0 && strs(r['resources']).length > 1) causes.push(required(`${path}.resourceNames`, 'resource names cannot apply to multiple resources'));
}

function goRoleRef(r: JsonObject): string {
  return `rbac.RoleRef{APIGroup:${JSON.stringify(str(r['apiGroup']))}, Kind:${JSON.stringify(str(r['kind']))}, Name:${JSON.stringify(str(r['name']))}}`;
}

function validateSubject(s: JsonObject, namespaced: boolean, path: string, causes: StatusCause[]): void {
  const name = str(s['name']);
  if (name === '') causes.push(required(`${path}.name`));
  const apiGroup = str(s['apiGroup']);
  switch (s['kind']) {
    case 'ServiceAccount':
      if (apiGroup !== '') causes.push(notSupported(`${path}.apiGroup`, apiGroup, ['']));
      if (!namespaced && str(s['namespace']) === '') causes.push(required(`${path}.namespace`));
      break;
    case 'User':
    case 'Group':
      if (apiGroup !== GROUP) causes.push(notSupported(`${path}.apiGroup`, apiGroup, [GROUP]));
      break;
    default:
      causes.push(notSupported(`${path}.kind`, str(s['kind']), ['ServiceAccount', 'User', 'Group']));
  }
}

export function validateRbac(kind: string, o: KubeObject, old: KubeObject | undefined, causes: StatusCause[]): KubeObject {
  const namespaced = kind === 'Role' || kind === 'RoleBinding';
  if (kind === 'Role' || kind === 'ClusterRole') {
    const rules = Array.isArray(o['rules']) ? o['rules'] : [];
    rules.forEach((r, i) => validateRule(isObject(r) ? r : {}, namespaced, `rules[${i}]`, causes));
    return o;
  }
  // Bindings: v1 defaults first (roleRef.apiGroup, subject apiGroups), then validation.
  const ref: JsonObject = { ...(isObject(o['roleRef']) ? o['roleRef'] : {}) };
  if (str(ref['apiGroup']) === '') ref['apiGroup'] = GROUP;
  const subjects = (Array.isArray(o['subjects']) ? o['subjects'] : []).map((s) => {
    const x: JsonObject = { ...(isObject(s) ? s : {}) };
    if (x['apiGroup'] === undefined || x['apiGroup'] === '') x['apiGroup'] = x['kind'] === 'User' || x['kind'] === 'Group' ? GROUP : '';
    if (x['apiGroup'] === '') delete x['apiGroup'];
    return x;
  });
  const out: KubeObject = { ...o, roleRef: ref };
  if (Array.isArray(o['subjects'])) out['subjects'] = subjects;
  if (ref['apiGroup'] !== GROUP) causes.push(notSupported('roleRef.apiGroup', str(ref['apiGroup']), [GROUP]));
  const kinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  if (!kinds.includes(str(ref['kind']))) causes.push(notSupported('roleRef.kind', str(ref['kind']), kinds));
  const name = str(ref['name']);
  if (name === '') causes.push(required('roleRef.name'));
  for (const m of pathSegmentNameErrors(name)) causes.push({ reason: 'FieldValueInvalid', field: 'roleRef.name', message: `Invalid value: ${JSON.stringify(name)}: ${m}` });
  subjects.forEach((s, i) => validateSubject(s, namespaced, `subjects[${i}]`, causes));
  if (old) {
    const oldRef = isObject(old['roleRef']) ? old['roleRef'] : {};
    if (goRoleRef(oldRef) !== goRoleRef(ref)) causes.push({ reason: 'FieldValueInvalid', field: 'roleRef', message: `Invalid value: ${goRoleRef(ref)}: cannot change roleRef` });
  }
  return out;
}
