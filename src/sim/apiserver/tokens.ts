// ServiceAccount tokens: JWTs signed with a per-server HMAC key (kept in the state dir, so tokens
// survive a restart), carrying the claims a real kube-apiserver puts in a bound token
// (`kubernetes.io: {namespace, serviceaccount, pod|node|secret}`), and the user they authenticate
// as, including the KEP-4193 extras (`authentication.kubernetes.io/node-name`, ...).

import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { isObject } from './types.js';
import type { UserInfo } from './userinfo.js';
import { serviceAccountUsername } from './rbac.js';

export const API_AUDIENCE = 'https://kubernetes.default.svc.cluster.local';
export const ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface ObjectRefClaim {
  name: string;
  uid: string;
}

export interface TokenClaims {
  aud: string[];
  exp: number;
  iat: number;
  nbf: number;
  iss: string;
  jti: string;
  sub: string;
  'kubernetes.io': {
    namespace: string;
    serviceaccount: ObjectRefClaim;
    node?: ObjectRefClaim;
    pod?: ObjectRefClaim;
    secret?: ObjectRefClaim;
  };
}

const b64 = (v: Buffer | string): string => Buffer.from(v).toString('base64url');
const HEADER = b64(JSON.stringify({ alg: 'HS256', kid: 'kto-sim', typ: 'JWT' }));

export class TokenSigner {
  constructor(readonly key: Buffer = randomBytes(32)) {}

  sign(claims: TokenClaims): string {
    const body = `${HEADER}.${b64(JSON.stringify(claims))}`;
    return `${body}.${b64(createHmac('sha256', this.key).update(body).digest())}`;
  }

  /** The claims of a token this server signed, or undefined (malformed, foreign, tampered). */
  verify(token: string): TokenClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [h, p, s] = parts as [string, string, string];
    const want = createHmac('sha256', this.key).update(`${h}.${p}`).digest();
    const got = Buffer.from(s, 'base64url');
    if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
    try {
      const c: unknown = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
      return isClaims(c) ? c : undefined;
    } catch {
      return undefined;
    }
  }

  /** A stable secret derived from the key (the admin token survives restarts with a state dir). */
  derive(label: string): string {
    return createHmac('sha256', this.key).update(label).digest('hex').slice(0, 40);
  }
}

function isRef(v: unknown): v is ObjectRefClaim {
  return isObject(v) && typeof v['name'] === 'string' && typeof v['uid'] === 'string';
}

function isClaims(c: unknown): c is TokenClaims {
  if (!isObject(c) || typeof c['exp'] !== 'number' || typeof c['sub'] !== 'string' || !Array.isArray(c['aud'])) return false;
  const k = c['kubernetes.io'];
  return isObject(k) && typeof k['namespace'] === 'string' && isRef(k['serviceaccount']);
}

export interface MintRequest {
  namespace: string;
  serviceAccount: ObjectRefClaim;
  audiences: string[];
  expirationSeconds: number;
  node?: ObjectRefClaim;
  pod?: ObjectRefClaim;
  secret?: ObjectRefClaim;
  nowMs: number;
}

export function mintClaims(r: MintRequest): TokenClaims {
  const iat = Math.floor(r.nowMs / 1000);
  const k: TokenClaims['kubernetes.io'] = { namespace: r.namespace, serviceaccount: r.serviceAccount };
  if (r.node) k.node = r.node;
  if (r.pod) k.pod = r.pod;
  if (r.secret) k.secret = r.secret;
  return {
    aud: r.audiences,
    exp: iat + r.expirationSeconds,
    iat,
    nbf: iat,
    iss: ISSUER,
    jti: randomUUID(),
    sub: serviceAccountUsername(r.namespace, r.serviceAccount.name),
    'kubernetes.io': k,
  };
}

/** The user a ServiceAccount token authenticates as (the real serviceaccount.UserInfo). */
export function userFromClaims(c: TokenClaims, withCredentialId: boolean): UserInfo {
  const k = c['kubernetes.io'];
  const user: UserInfo = {
    username: serviceAccountUsername(k.namespace, k.serviceaccount.name),
    uid: k.serviceaccount.uid,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${k.namespace}`, 'system:authenticated'],
  };
  const extra: Record<string, string[]> = {};
  if (k.pod) {
    extra['authentication.kubernetes.io/pod-name'] = [k.pod.name];
    extra['authentication.kubernetes.io/pod-uid'] = [k.pod.uid];
  }
  if (k.node) {
    extra['authentication.kubernetes.io/node-name'] = [k.node.name];
    extra['authentication.kubernetes.io/node-uid'] = [k.node.uid];
  }
  if (withCredentialId) extra['authentication.kubernetes.io/credential-id'] = [`JTI=${c.jti}`];
  if (Object.keys(extra).length > 0) user.extra = extra;
  return user;
}
