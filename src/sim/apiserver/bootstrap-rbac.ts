// The default ClusterRoles and ClusterRoleBindings a real API server reconciles at start
// (plugin/pkg/auth/authorizer/rbac/bootstrappolicy) that matter here: cluster-admin for
// system:masters, discovery and /version for every authenticated user, the health and version
// endpoints for everyone, and the self-reviews (whoami, can-i) for every authenticated user.

import type { KubeObject } from './types.js';

const META = { labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' }, annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' } };
const RBAC = 'rbac.authorization.k8s.io/v1';

const role = (name: string, rules: object[]): KubeObject => ({ apiVersion: RBAC, kind: 'ClusterRole', metadata: { name, ...structuredClone(META) }, rules });
const binding = (name: string, groups: string[]): KubeObject => ({
  apiVersion: RBAC,
  kind: 'ClusterRoleBinding',
  metadata: { name, ...structuredClone(META) },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
  subjects: groups.map((g) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: g })),
});

const PUBLIC_INFO = ['/healthz', '/livez', '/readyz', '/version', '/version/'];

export function bootstrapClusterRoles(): KubeObject[] {
  return [
    role('cluster-admin', [
      { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
      { nonResourceURLs: ['*'], verbs: ['*'] },
    ]),
    role('system:discovery', [{ nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'], verbs: ['get'] }]),
    role('system:basic-user', [
      { apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], verbs: ['create'] },
      { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], verbs: ['create'] },
    ]),
    role('system:public-info-viewer', [{ nonResourceURLs: PUBLIC_INFO, verbs: ['get'] }]),
  ];
}

export function bootstrapClusterRoleBindings(): KubeObject[] {
  return [
    binding('cluster-admin', ['system:masters']),
    binding('system:discovery', ['system:authenticated']),
    binding('system:basic-user', ['system:authenticated']),
    binding('system:public-info-viewer', ['system:authenticated', 'system:unauthenticated']),
  ];
}
