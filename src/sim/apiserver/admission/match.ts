// Which requests a policy's matchConstraints (and a binding's matchResources) select, as
// k8s.io/apiserver admission/plugin/policy/matching does it: resourceRules and
// excludeResourceRules (apiGroups, apiVersions, operations, resources with "*", "*/*",
// "pods/*", "*/status", resourceNames, scope), matchPolicy (Equivalent ignores the version, since
// the embedded server stores one shape per resource), namespaceSelector and objectSelector.

import { selectorMatches } from '../../../api/selector.js';
import type { LabelSelector } from '../../../api/types.js';
import type { KubeObject } from '../types.js';

export interface RequestFacts {
  group: string;
  version: string;
  resource: string;
  subresource: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  name: string;
  namespaced: boolean;
  object: KubeObject | null;
  oldObject: KubeObject | null;
  /** The Namespace object of a namespaced request (namespaceSelector reads its labels). */
  namespaceObject: KubeObject | null;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

// "pods" is the main resource only, "pods/" + "*" pods and its subresources, "*" every main
// resource, "*" + "/" + "*" everything (splitResource in k8s matching/rule.go).
function resourceMatches(patterns: string[], resource: string, sub: string): boolean {
  return patterns.some((p) => {
    const slash = p.indexOf('/');
    const pr = slash < 0 ? p : p.slice(0, slash);
    const ps = slash < 0 ? '' : p.slice(slash + 1);
    return (pr === '*' || pr === resource) && (ps === '*' || ps === sub);
  });
}

function ruleMatches(rule: Obj, r: RequestFacts, equivalent: boolean, withOperations: boolean): boolean {
  const has = (list: string[], v: string): boolean => list.includes('*') || list.includes(v);
  if (withOperations && !has(strings(rule['operations']), r.operation)) return false;
  if (!has(strings(rule['apiGroups']), r.group)) return false;
  if (!equivalent && !has(strings(rule['apiVersions']), r.version)) return false;
  if (!resourceMatches(strings(rule['resources']), r.resource, r.subresource)) return false;
  const scope = typeof rule['scope'] === 'string' ? rule['scope'] : '*';
  if (scope === 'Cluster' && r.namespaced) return false;
  if (scope === 'Namespaced' && !r.namespaced) return false;
  const names = strings(rule['resourceNames']);
  return names.length === 0 || names.includes(r.name);
}

function labelsOf(o: KubeObject | null): Record<string, string> | undefined {
  return o?.metadata.labels;
}

function emptySelector(s: LabelSelector): boolean {
  return Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0;
}

function selectorOf(v: unknown): LabelSelector | undefined {
  return isObj(v) ? v : undefined;
}

/**
 * Whether `r` is selected by a MatchResources (policy.spec.matchConstraints or
 * binding.spec.matchResources). `requireRules`: the policy's list must match; a binding
 * without resourceRules does not narrow the policy.
 */
export function matchesResources(m: Obj, r: RequestFacts, requireRules: boolean): boolean {
  const rules = Array.isArray(m['resourceRules']) ? m['resourceRules'].filter(isObj) : [];
  const equivalent = m['matchPolicy'] !== 'Exact';
  if ((requireRules || rules.length > 0) && !rules.some((rule) => ruleMatches(rule, r, equivalent, true))) return false;
  const excludes = Array.isArray(m['excludeResourceRules']) ? m['excludeResourceRules'].filter(isObj) : [];
  if (excludes.some((rule) => ruleMatches(rule, r, equivalent, true))) return false;
  const nsSel = selectorOf(m['namespaceSelector']);
  if (nsSel && !emptySelector(nsSel)) {
    // A cluster-scoped object is not filtered by namespace, except a Namespace by its own labels.
    const isNamespace = r.group === '' && r.resource === 'namespaces';
    const target = r.namespaced ? r.namespaceObject : isNamespace ? (r.object ?? r.oldObject) : undefined;
    if (target !== undefined && !selectorMatches(nsSel, labelsOf(target))) return false;
  }
  const objSel = selectorOf(m['objectSelector']);
  if (objSel && !emptySelector(objSel)) {
    const hit = (o: KubeObject | null): boolean => o !== null && selectorMatches(objSel, labelsOf(o));
    if (!hit(r.object) && !hit(r.oldObject)) return false;
  }
  return true;
}

/** "group/resource" keys a policy's rules can match, for the index ("*" where a wildcard is used). */
export function indexKeys(matchConstraints: Obj): string[] {
  const keys = new Set<string>();
  const rules = Array.isArray(matchConstraints['resourceRules']) ? matchConstraints['resourceRules'].filter(isObj) : [];
  for (const rule of rules) {
    for (const g of strings(rule['apiGroups'])) {
      for (const res of strings(rule['resources'])) keys.add(`${g}/${res.split('/')[0] ?? ''}`);
    }
  }
  return [...keys];
}
