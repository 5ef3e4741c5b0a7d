// The create-only APIs of authentication and authorization: TokenRequest
// (serviceaccounts/token, what `kubectl create token` calls), TokenReview, SelfSubjectReview
// (`kubectl auth whoami`), SelfSubjectAccessReview / SubjectAccessReview /
// LocalSubjectAccessReview (`kubectl auth can-i`), SelfSubjectRulesReview (`can-i --list`).

import type { Authenticator } from './authn.js';
import type { Authorizer } from './authz.js';
import { ApiError, badRequest, invalid, notFound, type StatusCause } from './errors.js';
import type { RequestAttributes } from './rbac.js';
import type { ResourceDef } from './registry.js';
import type { ObjectStore } from './store.js';
import { type TokenSigner, API_AUDIENCE, mintClaims, type ObjectRefClaim } from './tokens.js';
import { type JsonObject, type KubeObject, groupVersion, isObject } from './types.js';
import type { UserInfo } from './userinfo.js';

export interface TokenOptions {
  expirationSeconds?: number;
  audiences?: string[];
  boundObjectRef?: { kind: string; name: string; uid?: string; apiVersion?: string };
}

export interface AuthApiDeps {
  store: ObjectStore;
  signer: TokenSigner;
  authn: () => Authenticator;
  authz: Authorizer;
  /** Minor version the server reports: KEP-4193 claims from 1.30, Node-bound tokens from 1.31. */
  minor: number;
  nowMs: () => number;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const ts = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export class AuthApi {
  constructor(private readonly d: AuthApiDeps) {}

  private uidOf(resource: string, name: string, namespace?: string): string | undefined {
    try {
      const e = this.d.store.getEntry({ group: '', version: 'v1', resource }, name, namespace);
      return e.obj.metadata.deletionTimestamp ? undefined : e.obj.metadata.uid;
    } catch {
      return undefined;
    }
  }

  private object(resource: string, name: string, namespace?: string): KubeObject {
    return this.d.store.getEntry({ group: '', version: 'v1', resource }, name, namespace).obj;
  }

  /** Mints a token for an existing ServiceAccount, with the real server's checks. */
  mint(namespace: string, serviceAccount: string, o: TokenOptions = {}): { token: string; expirationTimestamp: string; expirationSeconds: number; audiences: string[] } {
    const exp = o.expirationSeconds ?? 3600;
    const name = 'TokenRequest';
    if (exp < 600) throw invalid(name, 'authentication.k8s.io', serviceAccount, [{ reason: 'FieldValueInvalid', field: 'spec.expirationSeconds', message: `Invalid value: ${exp}: may not specify a duration less than 10 minutes` }]);
    if (exp > 2 ** 32) throw invalid(name, 'authentication.k8s.io', serviceAccount, [{ reason: 'FieldValueInvalid', field: 'spec.expirationSeconds', message: `Invalid value: ${exp}: may not specify a duration larger than 2^32 seconds` }]);
    const sa = this.object('serviceaccounts', serviceAccount, namespace);
    const saRef: ObjectRefClaim = { name: serviceAccount, uid: sa.metadata.uid ?? '' };
    const audiences = o.audiences && o.audiences.length > 0 ? o.audiences : [API_AUDIENCE];
    const claims = { namespace, serviceAccount: saRef, audiences, expirationSeconds: exp, nowMs: this.d.nowMs() } as Parameters<typeof mintClaims>[0];
    const ref = o.boundObjectRef;
    if (ref) {
      const bound = this.bind(namespace, serviceAccount, ref);
      Object.assign(claims, bound);
    }
    const c = mintClaims(claims);
    return { token: this.d.signer.sign(c), expirationTimestamp: ts(c.exp * 1000), expirationSeconds: exp, audiences };
  }

  private bind(namespace: string, serviceAccount: string, ref: NonNullable<TokenOptions['boundObjectRef']>): { pod?: ObjectRefClaim; node?: ObjectRefClaim; secret?: ObjectRefClaim } {
    const apiVersion = ref.apiVersion ?? 'v1';
    const check = (uid: string, resource: string): void => {
      if (ref.uid && ref.uid !== uid) {
        throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${ref.kind} "${ref.name}": the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`, { name: ref.name, kind: resource });
      }
    };
    if (apiVersion === 'v1' && ref.kind === 'Pod') {
      const pod = this.object('pods', ref.name, namespace);
      const spec = isObject(pod['spec']) ? pod['spec'] : {};
      if (str(spec['serviceAccountName']) !== serviceAccount) throw badRequest(`cannot bind token for serviceaccount "${serviceAccount}" to pod running with different serviceaccount name.`);
      check(pod.metadata.uid ?? '', 'Pod');
      const out: { pod: ObjectRefClaim; node?: ObjectRefClaim } = { pod: { name: ref.name, uid: pod.metadata.uid ?? '' } };
      const nodeName = str(spec['nodeName']);
      if (this.d.minor >= 30 && nodeName !== '') out.node = { name: nodeName, uid: this.uidOf('nodes', nodeName) ?? '' };
      return out;
    }
    if (apiVersion === 'v1' && ref.kind === 'Node') {
      if (this.d.minor < 31) throw badRequest('cannot bind token to a Node object as the "ServiceAccountTokenNodeBinding" feature-gate is disabled');
      const node = this.object('nodes', ref.name);
      check(node.metadata.uid ?? '', 'Node');
      return { node: { name: ref.name, uid: node.metadata.uid ?? '' } };
    }
    if (apiVersion === 'v1' && ref.kind === 'Secret') {
      const secret = this.object('secrets', ref.name, namespace);
      check(secret.metadata.uid ?? '', 'Secret');
      return { secret: { name: ref.name, uid: secret.metadata.uid ?? '' } };
    }
    const gvk = apiVersion.includes('/') ? `${apiVersion}, Kind=${ref.kind}` : `/${apiVersion}, Kind=${ref.kind}`;
    throw badRequest(`cannot bind token to object of type ${gvk}`);
  }

  /** POST serviceaccounts/NAME/token. */
  tokenRequest(namespace: string, serviceAccount: string, body: unknown): JsonObject {
    const b = isObject(body) ? body : {};
    if (b['kind'] !== undefined && b['kind'] !== 'TokenRequest') throw badRequest(`the kind in the data (${str(b['kind'])}) does not match the expected kind (TokenRequest)`);
    const spec = isObject(b['spec']) ? b['spec'] : {};
    const o: TokenOptions = {};
    if (typeof spec['expirationSeconds'] === 'number') o.expirationSeconds = spec['expirationSeconds'];
    if (Array.isArray(spec['audiences'])) o.audiences = strs(spec['audiences']);
    if (isObject(spec['boundObjectRef'])) {
      const r = spec['boundObjectRef'];
      o.boundObjectRef = { kind: str(r['kind']), name: str(r['name']), apiVersion: str(r['apiVersion']) || 'v1' };
      if (str(r['uid'])) o.boundObjectRef.uid = str(r['uid']);
    }
    // The ServiceAccount must exist before the spec is looked at, as on a real server.
    if (this.uidOf('serviceaccounts', serviceAccount, namespace) === undefined) throw notFound('serviceaccounts', '', serviceAccount);
    const t = this.mint(namespace, serviceAccount, o);
    const outSpec: JsonObject = { audiences: t.audiences, expirationSeconds: t.expirationSeconds, boundObjectRef: o.boundObjectRef ?? null };
    return { kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1', metadata: { name: serviceAccount, namespace, creationTimestamp: ts(this.d.nowMs()) }, spec: outSpec, status: { token: t.token, expirationTimestamp: t.expirationTimestamp } };
  }

  /** POST of a review kind: the answer object (201). */
  review(def: ResourceDef, body: unknown, namespace: string | undefined, user: UserInfo): JsonObject {
    const b = isObject(body) ? body : {};
    const gv = groupVersion(def.group, def.version);
    if (b['apiVersion'] !== undefined && b['apiVersion'] !== gv) throw badRequest(`the API version in the data (${str(b['apiVersion'])}) does not match the expected API version (${gv})`);
    if (b['kind'] !== undefined && b['kind'] !== def.kind) throw badRequest(`the kind in the data (${str(b['kind'])}) does not match the expected kind (${def.kind})`);
    const spec = isObject(b['spec']) ? b['spec'] : {};
    const reply = (status: JsonObject, specOut: JsonObject = spec): JsonObject => ({ kind: def.kind, apiVersion: gv, metadata: isObject(b['metadata']) ? b['metadata'] : {}, spec: specOut, status });
    switch (def.resource) {
      case 'selfsubjectreviews':
        return { kind: def.kind, apiVersion: gv, metadata: { creationTimestamp: null }, status: { userInfo: userInfoJson(user) } };
      case 'tokenreviews':
        return reply(this.tokenReview(spec));
      case 'selfsubjectrulesreviews':
        return reply(this.rulesReview(user, str(spec['namespace'])));
      case 'selfsubjectaccessreviews':
        return reply(this.accessReview(def, user, spec));
      default: {
        const subject = this.subjectOf(def, spec, namespace);
        return reply(this.accessReview(def, subject, spec, namespace));
      }
    }
  }

  private tokenReview(spec: JsonObject): JsonObject {
    const token = str(spec['token']);
    const auds = strs(spec['audiences']);
    try {
      const user = token === '' ? undefined : this.d.authn().authenticate(`Bearer ${token}`);
      if (!user || user.username === 'system:anonymous') return { user: {}, error: '[invalid bearer token, token lookup failed]' };
      return { authenticated: true, user: userInfoJson(user), audiences: auds.length > 0 ? auds : [API_AUDIENCE] };
    } catch {
      return { user: {}, error: '[invalid bearer token, token lookup failed]' };
    }
  }

  private rulesReview(user: UserInfo, namespace: string): JsonObject {
    const r = this.d.authz.rulesFor(user, namespace);
    const resourceRules = r.rules.filter((x) => x.nonResourceURLs.length === 0).map((x) => ({ verbs: x.verbs, apiGroups: x.apiGroups, resources: x.resources, ...(x.resourceNames.length ? { resourceNames: x.resourceNames } : {}) }));
    const nonResourceRules = r.rules.filter((x) => x.nonResourceURLs.length > 0).map((x) => ({ verbs: x.verbs, nonResourceURLs: x.nonResourceURLs }));
    const out: JsonObject = { resourceRules, nonResourceRules, incomplete: r.errors.length > 0 };
    if (r.errors.length > 0) out['evaluationError'] = r.errors.length === 1 ? r.errors[0] : `[${r.errors.join(', ')}]`;
    return out;
  }

  private subjectOf(def: ResourceDef, spec: JsonObject, namespace: string | undefined): UserInfo {
    const user = str(spec['user']);
    const groups = strs(spec['groups']);
    const causes: StatusCause[] = [];
    if (user === '' && groups.length === 0) causes.push({ reason: 'FieldValueInvalid', field: 'spec.user', message: 'Invalid value: "": at least one of user or group must be specified' });
    const ra = isObject(spec['resourceAttributes']) ? spec['resourceAttributes'] : undefined;
    if (def.resource === 'localsubjectaccessreviews' && ra && str(ra['namespace']) !== (namespace ?? '')) {
      causes.push({ reason: 'FieldValueInvalid', field: 'spec.resourceAttributes.namespace', message: `Invalid value: ${JSON.stringify(str(ra['namespace']))}: must match metadata.namespace` });
    }
    if (causes.length > 0) throw invalid(def.kind, def.group, '', causes);
    const u: UserInfo = { username: user, groups };
    if (str(spec['uid'])) u.uid = str(spec['uid']);
    if (isObject(spec['extra'])) u.extra = Object.fromEntries(Object.entries(spec['extra']).map(([k, v]) => [k, strs(v)]));
    return u;
  }

  private accessReview(def: ResourceDef, user: UserInfo, spec: JsonObject, namespace?: string): JsonObject {
    const ra = isObject(spec['resourceAttributes']) ? spec['resourceAttributes'] : undefined;
    const nra = isObject(spec['nonResourceAttributes']) ? spec['nonResourceAttributes'] : undefined;
    if ((ra === undefined) === (nra === undefined)) {
      const msg = ra ? 'Invalid value: "…": cannot be specified in combination with resourceAttributes' : 'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified';
      throw invalid(def.kind, def.group, '', [{ reason: 'FieldValueInvalid', field: ra ? 'spec.nonResourceAttributes' : 'spec.resourceAttributes', message: msg }]);
    }
    const a: RequestAttributes = ra
      ? { user, verb: str(ra['verb']), resourceRequest: true, path: '', apiGroup: str(ra['group']), apiVersion: str(ra['version']), resource: str(ra['resource']), subresource: str(ra['subresource']), namespace: namespace ?? str(ra['namespace']), name: str(ra['name']) }
      : { user, verb: str(nra?.['verb']), resourceRequest: false, path: str(nra?.['path']), apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' };
    const d = this.d.authz.authorize(a);
    const out: JsonObject = { allowed: d.allowed };
    if (d.reason !== '') out['reason'] = d.reason;
    return out;
  }
}

export function userInfoJson(u: UserInfo): JsonObject {
  const out: JsonObject = { username: u.username };
  if (u.uid) out['uid'] = u.uid;
  out['groups'] = u.groups;
  if (u.extra) out['extra'] = u.extra;
  return out;
}
