// The RBAC authorizer as a pure function over (user, request attributes, an index of the RBAC
// objects), with the real evaluation rules (k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac and
// pkg/apis/rbac/v1/evaluation_helpers.go). The index is built once per change of the RBAC objects
// and keyed by subject, so one decision costs a few map lookups however many nodes there are.

import type { KubeObject } from './types.js';
import { isObject } from './types.js';
import type { UserInfo } from './userinfo.js';

export interface PolicyRule {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  resourceNames: string[];
  nonResourceURLs: string[];
}

/** What the real RequestInfo + user carry into authorization (authorizer.Attributes). */
export interface RequestAttributes {
  user: UserInfo;
  verb: string;
  resourceRequest: boolean;
  /** Non-resource requests: the URL path. */
  path: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

export interface Decision {
  allowed: boolean;
  /** Why not (role lookups that failed), as the real RBAC authorizer reports it; '' otherwise. */
  reason: string;
}

/** Members of this group are never denied (the real server's privileged-group authorizer). */
export const SUPERUSER_GROUP = 'system:masters';

interface BindingRef {
  /** undefined: a ClusterRoleBinding (cluster-wide). */
  namespace: string | undefined;
  roleKind: 'Role' | 'ClusterRole';
  roleName: string;
  /** `ClusterRoleBinding "b" of ClusterRole "r" to Group "g"`, as an allow reason names it. */
  source: string;
}

export interface RbacIndex {
  clusterRoles: Map<string, PolicyRule[]>;
  /** `namespace/name` -> rules. */
  roles: Map<string, PolicyRule[]>;
  /** `u:<username>` or `g:<group>` -> bindings naming that subject, ClusterRoleBindings first. */
  bySubject: Map<string, BindingRef[]>;
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

export function toRules(v: unknown): PolicyRule[] {
  if (!Array.isArray(v)) return [];
  return v.filter(isObject).map((r) => ({
    verbs: strings(r['verbs']),
    apiGroups: strings(r['apiGroups']),
    resources: strings(r['resources']),
    resourceNames: strings(r['resourceNames']),
    nonResourceURLs: strings(r['nonResourceURLs']),
  }));
}

/** `system:serviceaccount:NS:NAME`, the user name a ServiceAccount's tokens authenticate as. */
export function serviceAccountUsername(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

function describeSubject(s: Record<string, unknown>, bindingNamespace: string | undefined): string {
  const name = typeof s['name'] === 'string' ? s['name'] : '';
  if (s['kind'] !== 'ServiceAccount') return `${String(s['kind'])} ${JSON.stringify(name)}`;
  const ns = typeof s['namespace'] === 'string' && s['namespace'] !== '' ? s['namespace'] : (bindingNamespace ?? '');
  return `ServiceAccount ${JSON.stringify(`${name}/${ns}`)}`;
}

function subjectKey(s: Record<string, unknown>, bindingNamespace: string | undefined): string | undefined {
  const name = typeof s['name'] === 'string' ? s['name'] : '';
  if (name === '') return undefined;
  switch (s['kind']) {
    case 'User':
      return `u:${name}`;
    case 'Group':
      return `g:${name}`;
    case 'ServiceAccount': {
      // A RoleBinding's ServiceAccount subject without a namespace means the binding's own.
      const ns = typeof s['namespace'] === 'string' && s['namespace'] !== '' ? s['namespace'] : bindingNamespace;
      return ns ? `u:${serviceAccountUsername(ns, name)}` : undefined;
    }
    default:
      return undefined;
  }
}

export function buildIndex(objs: { clusterRoles: KubeObject[]; roles: KubeObject[]; clusterRoleBindings: KubeObject[]; roleBindings: KubeObject[] }): RbacIndex {
  const index: RbacIndex = { clusterRoles: new Map(), roles: new Map(), bySubject: new Map() };
  for (const r of objs.clusterRoles) index.clusterRoles.set(r.metadata.name ?? '', toRules(r['rules']));
  for (const r of objs.roles) index.roles.set(`${r.metadata.namespace ?? ''}/${r.metadata.name ?? ''}`, toRules(r['rules']));
  const add = (b: KubeObject, namespace: string | undefined): void => {
    const ref = isObject(b['roleRef']) ? b['roleRef'] : {};
    const roleKind = ref['kind'] === 'Role' ? 'Role' : 'ClusterRole';
    const roleName = typeof ref['name'] === 'string' ? ref['name'] : '';
    const subjects = Array.isArray(b['subjects']) ? b['subjects'].filter(isObject) : [];
    for (const s of subjects) {
      const key = subjectKey(s, namespace);
      if (key === undefined) continue;
      const list = index.bySubject.get(key) ?? [];
      const bindingName = namespace === undefined ? (b.metadata.name ?? '') : `${b.metadata.name ?? ''}/${namespace}`;
      const source = `${namespace === undefined ? 'ClusterRoleBinding' : 'RoleBinding'} ${JSON.stringify(bindingName)} of ${roleKind} ${JSON.stringify(roleName)} to ${describeSubject(s, namespace)}`;
      list.push({ namespace, roleKind, roleName, source });
      index.bySubject.set(key, list);
    }
  };
  for (const b of objs.clusterRoleBindings) add(b, undefined);
  for (const b of objs.roleBindings) add(b, b.metadata.namespace ?? '');
  return index;
}

// ---- rule matching (evaluation_helpers.go) ---------------------------------------------------

const has = (list: string[], v: string): boolean => list.includes('*') || list.includes(v);

function resourceMatches(rule: PolicyRule, resource: string, subresource: string): boolean {
  const combined = subresource === '' ? resource : `${resource}/${subresource}`;
  for (const r of rule.resources) {
    if (r === '*' || r === combined) return true;
    // `*/status` grants that subresource of every resource.
    if (subresource !== '' && r === `*/${subresource}`) return true;
  }
  return false;
}

function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  for (const u of rule.nonResourceURLs) {
    if (u === '*' || u === path) return true;
    if (u.endsWith('*') && path.startsWith(u.slice(0, -1))) return true;
  }
  return false;
}

export function ruleAllows(a: RequestAttributes, rule: PolicyRule): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (!a.resourceRequest) return nonResourceURLMatches(rule, a.path);
  return has(rule.apiGroups, a.apiGroup) && resourceMatches(rule, a.resource, a.subresource) && (rule.resourceNames.length === 0 || rule.resourceNames.includes(a.name));
}

// ---- the authorizer ------------------------------------------------------------------------

interface Visit {
  rules: PolicyRule[];
  source: string;
  /** Set when the binding's role does not exist. */
  error?: string;
}

/** The rules that apply to `user` in `namespace` ('' = cluster scope only), in the real visit order. */
function* visitRules(index: RbacIndex, user: UserInfo, namespace: string): Generator<Visit> {
  const keys = [`u:${user.username}`, ...user.groups.map((g) => `g:${g}`)];
  const refs: BindingRef[] = [];
  for (const k of keys) for (const b of index.bySubject.get(k) ?? []) if (b.namespace === undefined) refs.push(b);
  if (namespace !== '') for (const k of keys) for (const b of index.bySubject.get(k) ?? []) if (b.namespace === namespace) refs.push(b);
  for (const b of refs) {
    const rules = b.roleKind === 'ClusterRole' ? index.clusterRoles.get(b.roleName) : index.roles.get(`${b.namespace ?? ''}/${b.roleName}`);
    if (rules) yield { rules, source: b.source };
    else yield { rules: [], source: b.source, error: `${b.roleKind === 'ClusterRole' ? 'clusterrole' : 'role'}.rbac.authorization.k8s.io "${b.roleName}" not found` };
  }
}

export function authorize(index: RbacIndex, a: RequestAttributes): Decision {
  if (a.user.groups.includes(SUPERUSER_GROUP)) return { allowed: true, reason: '' };
  const errors: string[] = [];
  for (const v of visitRules(index, a.user, a.resourceRequest ? a.namespace : '')) {
    if (v.error) errors.push(v.error);
    for (const r of v.rules) if (ruleAllows(a, r)) return { allowed: true, reason: `RBAC: allowed by ${v.source}` };
  }
  // utilerrors.NewAggregate: one error prints bare, several as [a, b].
  const agg = errors.length === 0 ? '' : errors.length === 1 ? (errors[0] ?? '') : `[${errors.join(', ')}]`;
  return { allowed: false, reason: agg === '' ? '' : `RBAC: ${agg}` };
}

/** Every rule that applies to the user in a namespace (SelfSubjectRulesReview), with lookup errors. */
export function rulesFor(index: RbacIndex, user: UserInfo, namespace: string): { rules: PolicyRule[]; errors: string[] } {
  if (user.groups.includes(SUPERUSER_GROUP)) {
    return { rules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'], resourceNames: [], nonResourceURLs: [] }, { verbs: ['*'], apiGroups: [], resources: [], resourceNames: [], nonResourceURLs: ['*'] }], errors: [] };
  }
  const rules: PolicyRule[] = [];
  const errors: string[] = [];
  for (const v of visitRules(index, user, namespace)) {
    if (v.error) errors.push(v.error);
    rules.push(...v.rules);
  }
  return { rules, errors };
}

/** The real forbiddenMessage + NewForbidden wording (apiserver responsewriters/errors.go). */
export function forbiddenMessage(a: RequestAttributes, reason: string): string {
  const who = JSON.stringify(a.user.username);
  let msg: string;
  if (!a.resourceRequest) msg = `User ${who} cannot ${a.verb} path ${JSON.stringify(a.path)}`;
  else {
    const resource = a.subresource === '' ? a.resource : `${a.resource}/${a.subresource}`;
    const scope = a.namespace !== '' ? `in the namespace ${JSON.stringify(a.namespace)}` : 'at the cluster scope';
    msg = `User ${who} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(a.apiGroup)} ${scope}`;
  }
  if (reason !== '') msg = `${msg}: ${reason}`;
  if (!a.resourceRequest) return `forbidden: ${msg}`;
  const gr = a.apiGroup === '' ? a.resource : `${a.resource}.${a.apiGroup}`;
  return a.name === '' ? `${gr} is forbidden: ${msg}` : `${gr} ${JSON.stringify(a.name)} is forbidden: ${msg}`;
}
