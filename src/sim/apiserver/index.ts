// The embedded Kubernetes API server: an in-process HTTP server speaking the REST + watch
// protocol for the resources the operator uses, good enough for client-node and real kubectl.

import type { ServerResponse } from 'node:http';
import type { Server, Socket } from 'node:net';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify as toYaml } from 'yaml';
import { AuthApi, type TokenOptions } from './auth-api.js';
import { ADMIN_USER, Authenticator, type LiveUid } from './authn.js';
import { Authorizer } from './authz.js';
import { bootstrapClusterRoleBindings, bootstrapClusterRoles } from './bootstrap-rbac.js';
import { CLUSTERROLEBINDINGS, CLUSTERROLES, RBAC_RESOURCES, ROLEBINDINGS, ROLES } from './builtin-kinds.js';
import { Faults } from './faults.js';
import { type NodeProxyHandler, Router } from './http.js';
import { type TlsMaterial, dualProtocolServer, selfSignedCert } from './listener.js';
import { Persistence } from './persistence.js';
import { Store } from './store-api.js';
import { TokenSigner } from './tokens.js';
import { type KubeObject, LEASES, resKey } from './types.js';
import type { UserInfo } from './userinfo.js';

export { Store } from './store-api.js';
export type { PatchOptions, UpdateOptions } from './store-api.js';
export { Faults, type FaultMatch } from './faults.js';
export { ApiError, type Status, type StatusCause } from './errors.js';
export type { Entry, FieldValidation, KubeList, ListOptions, WatchOptions, WriteOptions } from './store.js';
export type { WatchEventType } from './history.js';
export type { PatchType } from './patch.js';
export type { ResourceDef } from './registry.js';
export type { NodeProxyHandler } from './http.js';
export type { UserInfo } from './userinfo.js';
export { IN_PROCESS_ADMIN } from './userinfo.js';
export type { TokenOptions } from './auth-api.js';
export { SERVICEACCOUNTS, SERVICES, SECRETS, PODS, DEPLOYMENTS, DAEMONSETS, PDBS, ROLES, CLUSTERROLES, ROLEBINDINGS, CLUSTERROLEBINDINGS, VAPS, VAP_BINDINGS } from './builtin-kinds.js';
export { NODES, NAMESPACES, CONFIGMAPS, EVENTS, EVENTS_V1, LEASES, CRDS, resKey, type KubeObject, type ObjectMeta, type ResourceRef, type PrinterColumn } from './types.js';

export interface ApiServerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Persist state here; restart() reloads it. */
  stateDir?: string;
  /** Reported by /version; the kubectl dispatcher picks its binary from it. Default 'v1.32.0'. */
  gitVersion?: string;
  /** Interval of BOOKMARK events on watches that allow them. Default 60 s, as the real cacher. */
  bookmarkIntervalMs?: number;
  /** Events kept for resuming watches and paginated lists (older ones get 410). Default 10,000. */
  historySize?: number;
  /**
   * Bearer token of the admin the written kubeconfig uses. Default: derived from the signing key
   * (stable across restarts with a stateDir, random otherwise).
   */
  adminToken?: string;
  /** Who the admin token authenticates as. Default kubernetes-admin in system:masters. */
  adminUser?: UserInfo;
}

export interface KubeconfigOptions {
  /** Bearer token of the user (default: the admin token). */
  token?: string;
  /** Name of the kubeconfig's user entry. Default 'kto-sim'. */
  user?: string;
  /**
   * Point at the https endpoint. kubectl (client-go) sends credentials only over TLS, so a
   * kubeconfig for kubectl needs it; in-process client-node authenticates over plain http too.
   * kubeconfigYaml() defaults to false, writeKubeconfig() to true.
   */
  tls?: boolean;
}

/** A ServiceAccount token minted in-process (tests, `kto sim` running components under their identity). */
export interface ServiceAccountTokenOptions {
  /** Bind the token to this Node: it carries `authentication.kubernetes.io/node-name` and dies with the Node. */
  boundNode?: string;
  /** Bind the token to this Pod (which must run as the ServiceAccount). */
  boundPod?: string;
  expirationSeconds?: number;
  audiences?: string[];
}

function signingKey(stateDir: string | undefined): Buffer {
  if (!stateDir) return randomBytes(32);
  const file = join(stateDir, 'sa-signing.key');
  try {
    const k = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
    if (k.length >= 32) return k;
  } catch {
    // no key yet
  }
  const k = randomBytes(32);
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(file, `${k.toString('hex')}\n`, { mode: 0o600 });
  return k;
}

export class ApiServer {
  readonly store: Store;
  readonly faults = new Faults();
  private server: Server | undefined;
  private port: number;
  private readonly sockets = new Set<Socket>();
  private readonly openWatches = new Set<ServerResponse>();
  private proxyHandler: NodeProxyHandler | undefined;
  private counts = { reads: 0, writes: 0, byVerb: {} as Record<string, number> };
  private readonly persistence: Persistence | undefined;
  private loaded = false;
  /** The bearer token of the admin kubeconfig (kubeconfigYaml()). */
  readonly adminToken: string;
  private readonly signer: TokenSigner;
  private readonly authz: Authorizer;
  private readonly authn: Authenticator;
  private readonly authApi: AuthApi;
  private tls: TlsMaterial | undefined;

  constructor(private readonly opts: ApiServerOptions = {}) {
    this.port = opts.port ?? 0;
    this.store = new Store(opts.historySize);
    this.signer = new TokenSigner(signingKey(opts.stateDir));
    this.adminToken = opts.adminToken ?? `kto-admin-${this.signer.derive('admin-token')}`;
    const list = (r: typeof ROLES): KubeObject[] => this.store.listEntries(r).items.map((e) => e.obj);
    this.authz = new Authorizer(() => ({ clusterRoles: list(CLUSTERROLES), roles: list(ROLES), clusterRoleBindings: list(CLUSTERROLEBINDINGS), roleBindings: list(ROLEBINDINGS) }));
    const minor = Number(/^v\d+\.(\d+)/.exec(opts.gitVersion ?? 'v1.32.0')?.[1] ?? '32');
    this.authn = new Authenticator({ signer: this.signer, adminToken: this.adminToken, adminUser: opts.adminUser ?? ADMIN_USER, liveUid: this.liveUid, credentialIdExtra: minor >= 30, nowMs: () => Date.now() });
    this.authApi = new AuthApi({ store: this.store, signer: this.signer, authn: () => this.authn, authz: this.authz, minor, nowMs: () => Date.now() });
    const rbacKeys = new Set(RBAC_RESOURCES.map(resKey));
    let p: Persistence | undefined;
    if (opts.stateDir) {
      p = new Persistence(opts.stateDir, this.store);
      this.persistence = p;
    }
    // Node heartbeats (500 Lease renewals a second at 5,000 nodes) do not each rewrite the state
    // file: they are saved with the next other write, or at stop.
    const heartbeats = resKey(LEASES);
    this.store.onCommit = (ev) => {
      if (ev.res === heartbeats && ev.key.startsWith('kube-node-lease/')) p?.markDirty();
      else p?.schedule();
      if (rbacKeys.has(ev.res)) this.authz.invalidate();
    };
    this.ensureBootstrapPolicy();
    this.faults.dropHandler = () => {
      for (const res of [...this.openWatches]) {
        this.openWatches.delete(res);
        res.socket?.destroy();
        res.destroy();
      }
    };
  }

  private readonly liveUid: LiveUid = (kind, namespace, name) => {
    const resource = { ServiceAccount: 'serviceaccounts', Pod: 'pods', Node: 'nodes', Secret: 'secrets' }[kind];
    try {
      const e = this.store.getEntry({ group: '', version: 'v1', resource }, name, namespace === '' ? undefined : namespace).obj;
      return e.metadata.deletionTimestamp ? undefined : e.metadata.uid;
    } catch {
      return undefined;
    }
  };

  /** The default RBAC a real server reconciles at start (missing objects are created). */
  private ensureBootstrapPolicy(): void {
    for (const [res, objs] of [[CLUSTERROLES, bootstrapClusterRoles()], [CLUSTERROLEBINDINGS, bootstrapClusterRoleBindings()]] as const) {
      for (const o of objs) if (!this.store.tryGet(res, o.metadata.name ?? '')) this.store.createEntry(res, o);
    }
    this.authz.invalidate();
  }

  /** Plain HTTP (tests, in-process clients). The same port also speaks TLS: see httpsUrl. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The same server over TLS (self-signed): kubectl sends a kubeconfig's credentials only over https. */
  get httpsUrl(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.server) return;
    if (this.persistence && !this.loaded) {
      this.loaded = true;
      if (!(await this.persistence.load())) this.persistence.markDirty();
      this.ensureBootstrapPolicy();
    }
    const router = new Router({
      store: this.store,
      faults: this.faults,
      gitVersion: this.opts.gitVersion ?? 'v1.32.0',
      bookmarkIntervalMs: this.opts.bookmarkIntervalMs ?? 60_000,
      openWatches: this.openWatches,
      nodeProxy: () => this.proxyHandler,
      count: (verb) => this.count(verb),
      serverAddress: () => `127.0.0.1:${this.port}`,
      authn: this.authn,
      authz: this.authz,
      authApi: this.authApi,
    });
    this.tls ??= await selfSignedCert();
    const server = dualProtocolServer((req, res) => void router.handle(req, res), this.tls, (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // A deep accept queue, as Go servers ask the system maximum: thousands of clients (the
      // embedded cluster's agents) connect at once at start.
      server.listen({ port: this.port, host: '127.0.0.1', backlog: 4096 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    if (addr && typeof addr === 'object') this.port = addr.port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.store.hub.closeAll();
    for (const res of this.openWatches) if (!res.writableEnded) res.end();
    this.openWatches.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
    await this.persistence?.flush();
  }

  /** Stop, then start on the same port from persisted state (stateDir) or the kept memory. */
  async restart(): Promise<void> {
    await this.stop();
    if (this.persistence) {
      await this.persistence.load();
      this.ensureBootstrapPolicy();
    } else this.store.hub.reset(this.store.resourceVersion);
    await this.start();
  }

  /**
   * A kubeconfig for this server: the admin (system:masters) by default, or whoever `token`
   * authenticates as (see tokenFor). `user` names the kubeconfig's user entry.
   */
  kubeconfigYaml(opts: KubeconfigOptions = {}): string {
    const user = opts.user ?? 'kto-sim';
    return toYaml({
      apiVersion: 'v1',
      kind: 'Config',
      // client-node 1.4 refuses a plain http:// server unless the cluster skips TLS verification,
      // and the certificate is self-signed.
      clusters: [{ name: 'kto-sim', cluster: { server: opts.tls ? this.httpsUrl : this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: user, user: { token: opts.token ?? this.adminToken } }],
      contexts: [{ name: 'kto-sim', context: { cluster: 'kto-sim', user } }],
      'current-context': 'kto-sim',
      preferences: {},
    });
  }

  /** Writes a kubeconfig for kubectl and other processes: https unless `tls: false`. */
  async writeKubeconfig(path: string, opts: KubeconfigOptions = {}): Promise<void> {
    await writeFile(path, this.kubeconfigYaml({ tls: true, ...opts }), { mode: 0o600 });
  }

  /**
   * Mints a token of an existing ServiceAccount, as TokenRequest would (same checks: the
   * ServiceAccount and any bound object must exist). Throws the real ApiError otherwise.
   */
  tokenFor(namespace: string, serviceAccount: string, o: ServiceAccountTokenOptions = {}): string {
    const t: TokenOptions = {};
    if (o.expirationSeconds !== undefined) t.expirationSeconds = o.expirationSeconds;
    if (o.audiences) t.audiences = o.audiences;
    if (o.boundNode !== undefined) t.boundObjectRef = { kind: 'Node', apiVersion: 'v1', name: o.boundNode };
    if (o.boundPod !== undefined) t.boundObjectRef = { kind: 'Pod', apiVersion: 'v1', name: o.boundPod };
    return this.authApi.mint(namespace, serviceAccount, t).token;
  }

  setNodeProxy(handler: NodeProxyHandler): void {
    this.proxyHandler = handler;
  }

  requestCounts(): { reads: number; writes: number; byVerb: Record<string, number> } {
    return { reads: this.counts.reads, writes: this.counts.writes, byVerb: { ...this.counts.byVerb } };
  }

  resetRequestCounts(): void {
    this.counts = { reads: 0, writes: 0, byVerb: {} };
  }

  private count(verb: string): void {
    this.counts.byVerb[verb] = (this.counts.byVerb[verb] ?? 0) + 1;
    if (verb === 'get' || verb === 'list' || verb === 'watch') this.counts.reads++;
    else if (verb !== 'discovery') this.counts.writes++;
  }
}
