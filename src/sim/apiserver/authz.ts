// Authorization at the HTTP edge: the real RequestInfo of a URL (what RBAC sees), the RBAC index
// kept over the stored RBAC objects (rebuilt lazily after one of them changes), and the real 403.

import { ApiError } from './errors.js';
import { type Decision, type PolicyRule, type RbacIndex, type RequestAttributes, authorize, buildIndex, forbiddenMessage, rulesFor } from './rbac.js';
import type { KubeObject } from './types.js';
import type { UserInfo } from './userinfo.js';

const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

/** strconv.ParseBool's true values (how the real server reads `watch=`). */
export function parseBool(v: string | null): boolean {
  return v !== null && ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v);
}

/** `metadata.name` when a field selector pins it (fields.Selector.RequiresExactMatch). */
function exactName(fieldSelector: string | null): string {
  if (!fieldSelector) return '';
  for (const term of fieldSelector.split(',')) {
    const m = /^\s*metadata\.name\s*==?\s*(.*?)\s*$/.exec(term);
    const v = m?.[1];
    if (v !== undefined && v !== '' && v !== '.' && v !== '..' && !/[/%]/.test(v)) return v;
  }
  return '';
}

const METHOD_VERBS: Record<string, string> = { POST: 'create', GET: 'get', HEAD: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/** k8s.io/apiserver RequestInfoFactory.NewRequestInfo, for the prefixes /api and /apis. */
export function requestAttributes(user: UserInfo, method: string, path: string, query: URLSearchParams): RequestAttributes {
  const parts = path.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
  const a: RequestAttributes = { user, verb: method.toLowerCase(), resourceRequest: false, path, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' };
  const api = apiPrefix(parts);
  if (!api) return a;
  a.resourceRequest = true;
  a.apiGroup = api.group;
  a.apiVersion = api.version;
  let cur = api.rest;
  // The deprecated /watch/ and /proxy/ path prefixes name the verb themselves.
  const pathVerb = cur[0] === 'watch' || cur[0] === 'proxy' ? cur[0] : undefined;
  if (pathVerb) cur = cur.slice(1);
  a.verb = pathVerb ?? METHOD_VERBS[method] ?? '';
  if (cur[0] === 'namespaces' && cur.length > 1) {
    a.namespace = cur[1] ?? '';
    if (cur.length > 2 && !NAMESPACE_SUBRESOURCES.has(cur[2] ?? '')) cur = cur.slice(2);
  }
  const [resource = '', name = '', subresource = ''] = cur;
  a.resource = resource;
  a.name = name;
  if (pathVerb !== 'proxy') a.subresource = subresource;
  return withCollectionVerb(a, query);
}

/** `/api/v1/…` or `/apis/<group>/<version>/…` with at least one segment after; undefined otherwise. */
function apiPrefix(parts: string[]): { group: string; version: string; rest: string[] } | undefined {
  const [root, first = '', second = ''] = parts;
  if (root === 'api' && parts.length >= 3) return { group: '', version: first, rest: parts.slice(2) };
  if (root === 'apis' && parts.length >= 4) return { group: first, version: second, rest: parts.slice(3) };
  return undefined;
}

/** A get or delete without a name acts on the collection: list (or watch), deletecollection. */
function withCollectionVerb(a: RequestAttributes, query: URLSearchParams): RequestAttributes {
  if (a.name === '' && a.verb === 'get') {
    a.verb = parseBool(query.get('watch')) ? 'watch' : 'list';
    a.name = exactName(query.get('fieldSelector'));
  }
  if (a.name === '' && a.verb === 'delete') a.verb = 'deletecollection';
  return a;
}

export function forbidden(a: RequestAttributes, reason: string): ApiError {
  const details = a.resourceRequest ? { ...(a.name ? { name: a.name } : {}), ...(a.apiGroup ? { group: a.apiGroup } : {}), kind: a.resource } : {};
  return new ApiError(403, 'Forbidden', forbiddenMessage(a, reason), details);
}

export interface RbacObjects {
  clusterRoles: KubeObject[];
  roles: KubeObject[];
  clusterRoleBindings: KubeObject[];
  roleBindings: KubeObject[];
}

export class Authorizer {
  private index: RbacIndex | undefined;

  constructor(private readonly load: () => RbacObjects) {}

  /** Call after any RBAC object changed (or the store was reloaded). */
  invalidate(): void {
    this.index = undefined;
  }

  private current(): RbacIndex {
    this.index ??= buildIndex(this.load());
    return this.index;
  }

  authorize(a: RequestAttributes): Decision {
    return authorize(this.current(), a);
  }

  rulesFor(user: UserInfo, namespace: string): { rules: PolicyRule[]; errors: string[] } {
    return rulesFor(this.current(), user, namespace);
  }

  /** Throws the real 403 unless allowed. */
  check(a: RequestAttributes): void {
    const d = this.authorize(a);
    if (!d.allowed) throw forbidden(a, d.reason);
  }
}
