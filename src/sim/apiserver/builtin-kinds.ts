// The built-in kinds the chart and everyday tools create (ServiceAccount, Service, Secret,
// Deployment, DaemonSet, PodDisruptionBudget, RBAC, ValidatingAdmissionPolicy[Binding]) and the
// create-only review APIs (TokenReview, SelfSubjectReview, *SubjectAccessReview, RulesReview):
// their discovery entries. Schemas live in ./builtin-schemas.ts, defaulting and validation in
// ./builtin-validate.ts.

import type { ResourceDef } from './registry.js';
import type { ResourceRef } from './types.js';

export interface SubresourceDef {
  name: string;
  kind: string;
  verbs: string[];
  /** Set when the subresource's kind lives in another group (serviceaccounts/token: TokenRequest). */
  group?: string;
  version?: string;
}

export const SERVICEACCOUNTS: ResourceRef = { group: '', version: 'v1', resource: 'serviceaccounts' };
export const SERVICES: ResourceRef = { group: '', version: 'v1', resource: 'services' };
export const SECRETS: ResourceRef = { group: '', version: 'v1', resource: 'secrets' };
export const PODS: ResourceRef = { group: '', version: 'v1', resource: 'pods' };
export const DEPLOYMENTS: ResourceRef = { group: 'apps', version: 'v1', resource: 'deployments' };
export const DAEMONSETS: ResourceRef = { group: 'apps', version: 'v1', resource: 'daemonsets' };
export const PDBS: ResourceRef = { group: 'policy', version: 'v1', resource: 'poddisruptionbudgets' };
const RBAC = 'rbac.authorization.k8s.io';
export const ROLES: ResourceRef = { group: RBAC, version: 'v1', resource: 'roles' };
export const CLUSTERROLES: ResourceRef = { group: RBAC, version: 'v1', resource: 'clusterroles' };
export const ROLEBINDINGS: ResourceRef = { group: RBAC, version: 'v1', resource: 'rolebindings' };
export const CLUSTERROLEBINDINGS: ResourceRef = { group: RBAC, version: 'v1', resource: 'clusterrolebindings' };
export const VAPS: ResourceRef = { group: 'admissionregistration.k8s.io', version: 'v1', resource: 'validatingadmissionpolicies' };
export const VAP_BINDINGS: ResourceRef = { group: 'admissionregistration.k8s.io', version: 'v1', resource: 'validatingadmissionpolicybindings' };

export const RBAC_RESOURCES = [ROLES, CLUSTERROLES, ROLEBINDINGS, CLUSTERROLEBINDINGS];

export const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** A built-in resource as discovery shows it: every verb, no status, unless `extra` says so. */
export function builtinDef(r: ResourceRef, kind: string, namespaced: boolean, extra: Partial<ResourceDef> = {}): ResourceDef {
  return {
    ...r,
    kind,
    listKind: `${kind}List`,
    singular: kind.toLowerCase(),
    namespaced,
    shortNames: [],
    categories: [],
    verbs: ALL_VERBS,
    hasStatus: false,
    returnDeletedObject: false,
    ...extra,
  };
}

/** Kinds stored like any other (generation only where the real kind keeps one). */
export function storedBuiltinDefs(): ResourceDef[] {
  return [
    builtinDef(SERVICEACCOUNTS, 'ServiceAccount', true, { shortNames: ['sa'], noGeneration: true, subresources: [{ name: 'token', kind: 'TokenRequest', group: 'authentication.k8s.io', version: 'v1', verbs: ['create'] }] }),
    builtinDef(SERVICES, 'Service', true, { shortNames: ['svc'], categories: ['all'], hasStatus: true, noGeneration: true, verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] }),
    builtinDef(SECRETS, 'Secret', true, { noGeneration: true }),
    builtinDef(DEPLOYMENTS, 'Deployment', true, { shortNames: ['deploy'], categories: ['all'], hasStatus: true }),
    builtinDef(DAEMONSETS, 'DaemonSet', true, { shortNames: ['ds'], categories: ['all'], hasStatus: true }),
    builtinDef(PDBS, 'PodDisruptionBudget', true, { shortNames: ['pdb'], hasStatus: true }),
    builtinDef(CLUSTERROLEBINDINGS, 'ClusterRoleBinding', false, { noGeneration: true }),
    builtinDef(CLUSTERROLES, 'ClusterRole', false, { noGeneration: true }),
    builtinDef(ROLEBINDINGS, 'RoleBinding', true, { noGeneration: true }),
    builtinDef(ROLES, 'Role', true, { noGeneration: true }),
    builtinDef(VAPS, 'ValidatingAdmissionPolicy', false, { categories: ['api-extensions'], hasStatus: true }),
    builtinDef(VAP_BINDINGS, 'ValidatingAdmissionPolicyBinding', false, { categories: ['api-extensions'] }),
  ];
}

/** Create-only APIs answered from the request and nothing stored. */
export function reviewDefs(): ResourceDef[] {
  const review = (group: string, version: string, resource: string, kind: string, namespaced = false): ResourceDef =>
    builtinDef({ group, version, resource }, kind, namespaced, { verbs: ['create'], virtual: true, noGeneration: true });
  return [
    review('authentication.k8s.io', 'v1', 'tokenreviews', 'TokenReview'),
    review('authentication.k8s.io', 'v1', 'selfsubjectreviews', 'SelfSubjectReview'),
    // kubectl 1.27 asks v1beta1 for `auth whoami` (1.28+ ask v1 first).
    review('authentication.k8s.io', 'v1beta1', 'selfsubjectreviews', 'SelfSubjectReview'),
    review('authorization.k8s.io', 'v1', 'localsubjectaccessreviews', 'LocalSubjectAccessReview', true),
    review('authorization.k8s.io', 'v1', 'selfsubjectaccessreviews', 'SelfSubjectAccessReview'),
    review('authorization.k8s.io', 'v1', 'selfsubjectrulesreviews', 'SelfSubjectRulesReview'),
    review('authorization.k8s.io', 'v1', 'subjectaccessreviews', 'SubjectAccessReview'),
  ];
}
