// The embedded Kubernetes API server: an in-process HTTP server speaking the REST + watch
// protocol for the resources the operator uses, good enough for client-node and real kubectl.

import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { stringify as toYaml } from 'yaml';
import { Faults } from './faults.js';
import { type NodeProxyHandler, Router } from './http.js';
import { Persistence } from './persistence.js';
import { Store } from './store-api.js';
import { LEASES, resKey } from './types.js';

export { Store } from './store-api.js';
export type { PatchOptions, UpdateOptions } from './store-api.js';
export { Faults, type FaultMatch } from './faults.js';
export { ApiError, type Status, type StatusCause } from './errors.js';
export type { Entry, FieldValidation, KubeList, ListOptions, WatchOptions, WriteOptions } from './store.js';
export type { WatchEventType } from './history.js';
export type { PatchType } from './patch.js';
export type { ResourceDef } from './registry.js';
export type { NodeProxyHandler } from './http.js';
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

  constructor(private readonly opts: ApiServerOptions = {}) {
    this.port = opts.port ?? 0;
    this.store = new Store(opts.historySize);
    if (opts.stateDir) {
      const p = new Persistence(opts.stateDir, this.store);
      this.persistence = p;
      // Node heartbeats (500 Lease renewals a second at 5,000 nodes) do not each rewrite the
      // state file: they are saved with the next other write, or at stop.
      const heartbeats = resKey(LEASES);
      this.store.onCommit = (ev) => {
        if (ev.res === heartbeats && ev.key.startsWith('kube-node-lease/')) p.markDirty();
        else p.schedule();
      };
    }
    this.faults.dropHandler = () => {
      for (const res of [...this.openWatches]) {
        this.openWatches.delete(res);
        res.socket?.destroy();
        res.destroy();
      }
    };
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.server) return;
    if (this.persistence && !this.loaded) {
      this.loaded = true;
      if (!(await this.persistence.load())) this.persistence.markDirty();
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
    });
    const server = createServer((req, res) => void router.handle(req, res));
    server.keepAliveTimeout = 30_000;
    server.on('connection', (s: Socket) => {
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
    if (this.persistence) await this.persistence.load();
    else this.store.hub.reset(this.store.resourceVersion);
    await this.start();
  }

  kubeconfigYaml(): string {
    return toYaml({
      apiVersion: 'v1',
      kind: 'Config',
      // client-node 1.4 refuses a plain http:// server unless the cluster skips TLS verification.
      clusters: [{ name: 'kto-sim', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'kto-sim', user: { token: 'kto-sim' } }],
      contexts: [{ name: 'kto-sim', context: { cluster: 'kto-sim', user: 'kto-sim' } }],
      'current-context': 'kto-sim',
      preferences: {},
    });
  }

  async writeKubeconfig(path: string): Promise<void> {
    await writeFile(path, this.kubeconfigYaml(), { mode: 0o600 });
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
