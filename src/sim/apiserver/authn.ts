// Authentication: who sent a request. A static admin bearer token (the kubeconfig the sim writes),
// ServiceAccount tokens this server minted (checked against the live ServiceAccount and bound
// object on every request, so deleting either revokes the token), no token = system:anonymous.
// Then impersonation (Impersonate-* headers), authorized verb by verb as the real filter does.

import type { IncomingHttpHeaders } from 'node:http';
import { ApiError, internalError } from './errors.js';
import { type TokenClaims, type TokenSigner, API_AUDIENCE, userFromClaims } from './tokens.js';
import type { Decision, RequestAttributes } from './rbac.js';
import type { UserInfo } from './userinfo.js';

export const ANONYMOUS: UserInfo = { username: 'system:anonymous', groups: ['system:unauthenticated'] };

export const ADMIN_USER: UserInfo = { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] };

/** The uid of a live object (undefined when absent or being deleted). */
export type LiveUid = (kind: 'ServiceAccount' | 'Pod' | 'Node' | 'Secret', namespace: string, name: string) => string | undefined;

export interface AuthnOptions {
  signer: TokenSigner;
  adminToken: string;
  adminUser: UserInfo;
  liveUid: LiveUid;
  /** 1.30+ servers add `authentication.kubernetes.io/credential-id` (KEP-4193). */
  credentialIdExtra: boolean;
  nowMs: () => number;
}

export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'Unauthorized');
}

const CACHE_MAX = 50_000;

export class Authenticator {
  /** Signature and claim checks are done once per token; liveness is checked per request. */
  private readonly verified = new Map<string, { claims: TokenClaims; user: UserInfo } | null>();

  constructor(private readonly o: AuthnOptions) {}

  /** The requester, or a 401 ApiError for a token this server does not accept. */
  authenticate(authorization: string | undefined): UserInfo {
    if (authorization === undefined) return ANONYMOUS;
    const m = /^\s*bearer\s+(.*)$/i.exec(authorization);
    const token = m?.[1]?.trim() ?? '';
    // A header that is not a bearer token, or an empty one, is not a credential at all.
    if (token === '') return ANONYMOUS;
    if (token === this.o.adminToken) return this.o.adminUser;
    let v = this.verified.get(token);
    if (v === undefined) {
      const claims = this.o.signer.verify(token);
      v = claims && claims.aud.includes(API_AUDIENCE) ? { claims, user: userFromClaims(claims, this.o.credentialIdExtra) } : null;
      if (this.verified.size >= CACHE_MAX) this.verified.clear();
      this.verified.set(token, v);
    }
    if (v === null || !this.live(v.claims)) throw unauthorized();
    return v.user;
  }

  private live(c: TokenClaims): boolean {
    if (this.o.nowMs() >= c.exp * 1000) return false;
    const k = c['kubernetes.io'];
    const ns = k.namespace;
    if (this.o.liveUid('ServiceAccount', ns, k.serviceaccount.name) !== k.serviceaccount.uid) return false;
    if (k.pod && this.o.liveUid('Pod', ns, k.pod.name) !== k.pod.uid) return false;
    if (k.secret && this.o.liveUid('Secret', ns, k.secret.name) !== k.secret.uid) return false;
    // A pod-bound token names its pod's node for information only; a Node-bound one is bound to it.
    if (k.node && !k.pod && this.o.liveUid('Node', '', k.node.name) !== k.node.uid) return false;
    return true;
  }
}

// ---- impersonation (apiserver endpoints/filters/impersonation.go) ----------------------------

interface ImpersonationRequest {
  kind: 'User' | 'ServiceAccount' | 'Group' | 'UserExtra' | 'UID';
  namespace: string;
  name: string;
  apiVersion: string;
  fieldPath: string;
}

const SA_PREFIX = 'system:serviceaccount:';

function headerValues(h: IncomingHttpHeaders, name: string): string[] {
  const v = h[name];
  if (v === undefined) return [];
  // Node joins repeated headers with ", "; the real server sees them one by one.
  return (Array.isArray(v) ? v : v.split(',')).map((x) => x.trim()).filter((x) => x !== '');
}

/** Go's %v of a v1.ObjectReference, as the real error message prints the requests. */
function goRef(r: ImpersonationRequest): string {
  return `{${r.kind} ${r.namespace} ${r.name}  ${r.apiVersion}  ${r.fieldPath}}`;
}

function unescapeKey(k: string): string {
  try {
    return decodeURIComponent(k);
  } catch {
    return k;
  }
}

function requests(h: IncomingHttpHeaders): ImpersonationRequest[] {
  const out: ImpersonationRequest[] = [];
  const user = headerValues(h, 'impersonate-user')[0] ?? '';
  if (user !== '') {
    const parts = user.startsWith(SA_PREFIX) ? user.slice(SA_PREFIX.length).split(':') : [];
    if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') out.push({ kind: 'ServiceAccount', namespace: parts[0] ?? '', name: parts[1] ?? '', apiVersion: '', fieldPath: '' });
    else out.push({ kind: 'User', namespace: '', name: user, apiVersion: '', fieldPath: '' });
  }
  const groups = headerValues(h, 'impersonate-group');
  for (const g of groups) out.push({ kind: 'Group', namespace: '', name: g, apiVersion: '', fieldPath: '' });
  let extras = false;
  for (const [k, v] of Object.entries(h)) {
    if (!k.startsWith('impersonate-extra-') || v === undefined) continue;
    extras = true;
    const key = unescapeKey(k.slice('impersonate-extra-'.length));
    for (const value of headerValues(h, k)) out.push({ kind: 'UserExtra', namespace: '', name: value, apiVersion: 'authentication.k8s.io/v1', fieldPath: key });
  }
  const uid = headerValues(h, 'impersonate-uid')[0] ?? '';
  if (uid !== '') out.push({ kind: 'UID', namespace: '', name: uid, apiVersion: 'authentication.k8s.io/v1', fieldPath: '' });
  if ((groups.length > 0 || extras || uid !== '') && user === '') {
    throw internalError(`requested [${out.map(goRef).join(' ')}] without impersonating a user`);
  }
  return out;
}

/**
 * The user a request acts as after its Impersonate-* headers; throws the real 403 when the
 * requester may not impersonate one of them.
 */
export function impersonate(requestor: UserInfo, h: IncomingHttpHeaders, authorize: (a: RequestAttributes) => Decision, forbidden: (a: RequestAttributes, reason: string) => ApiError): UserInfo {
  const reqs = requests(h);
  if (reqs.length === 0) return requestor;
  const groupsSpecified = reqs.some((r) => r.kind === 'Group');
  let username = '';
  let uid = '';
  let groups: string[] = [];
  const extra: Record<string, string[]> = {};
  for (const r of reqs) {
    const a: RequestAttributes = { user: requestor, verb: 'impersonate', resourceRequest: true, path: '', apiGroup: '', apiVersion: 'v1', resource: '', subresource: '', namespace: r.namespace, name: r.name };
    switch (r.kind) {
      case 'ServiceAccount':
        a.resource = 'serviceaccounts';
        username = `${SA_PREFIX}${r.namespace}:${r.name}`;
        if (!groupsSpecified) groups = ['system:serviceaccounts', `system:serviceaccounts:${r.namespace}`];
        break;
      case 'User':
        a.resource = 'users';
        username = r.name;
        break;
      case 'Group':
        a.resource = 'groups';
        groups.push(r.name);
        break;
      case 'UserExtra':
        [a.apiGroup, a.apiVersion, a.resource, a.subresource] = ['authentication.k8s.io', 'v1', 'userextras', r.fieldPath];
        (extra[r.fieldPath] ??= []).push(r.name);
        break;
      case 'UID':
        [a.apiGroup, a.apiVersion, a.resource] = ['authentication.k8s.io', 'v1', 'uids'];
        uid = r.name;
        break;
    }
    const d = authorize(a);
    if (!d.allowed) throw forbidden(a, d.reason);
  }
  if (username !== ANONYMOUS.username) {
    if (!groups.includes('system:authenticated') && !groups.includes('system:unauthenticated')) groups.push('system:authenticated');
  } else if (!groups.includes('system:unauthenticated')) groups.push('system:unauthenticated');
  const user: UserInfo = { username, groups };
  if (uid !== '') user.uid = uid;
  if (Object.keys(extra).length > 0) user.extra = extra;
  return user;
}
