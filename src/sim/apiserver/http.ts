// HTTP routing: discovery, OpenAPI, node proxy, and the REST verbs on every served resource.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import type { AuthApi } from './auth-api.js';
import { type Authenticator, impersonate } from './authn.js';
import { type Authorizer, forbidden, requestAttributes } from './authz.js';
import { ApiError, badRequest, internalError, methodNotAllowed, successStatus, tooManyRequests } from './errors.js';
import type { Faults } from './faults.js';
import { gvDocument, v2Document, v3Index } from './openapi.js';
import { encodeV2 } from './openapi-pb.js';
import { PATCH_CONTENT_TYPES } from './patch.js';
import { decodeKubeProtobuf } from './protobuf.js';
import type { ResourceDef } from './registry.js';
import type { Entry, FieldValidation, ObjectStore, WriteOptions } from './store.js';
import { toTable, wantsTable } from './table.js';
import { type JsonObject, groupVersion, isObject } from './types.js';
import type { UserInfo } from './userinfo.js';
import { queryFlag, serveWatch } from './watch-http.js';

export type NodeProxyHandler = (nodeName: string, path: string, request?: { method: string; body: string }) => Promise<{ status: number; body: string; contentType?: string }>;

export interface RouterDeps {
  store: ObjectStore;
  faults: Faults;
  gitVersion: string;
  bookmarkIntervalMs: number;
  openWatches: Set<ServerResponse>;
  nodeProxy: () => NodeProxyHandler | undefined;
  count: (verb: string) => void;
  serverAddress: () => string;
  authn: Authenticator;
  authz: Authorizer;
  authApi: AuthApi;
}

interface Target {
  def: ResourceDef;
  namespace: string | undefined;
  name: string | undefined;
  sub: string | undefined;
  subPath: string;
}

function send(res: ServerResponse, code: number, body: string | object, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private', ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, e: ApiError): void {
  send(res, e.code, e.status, e.headers);
}

async function readRaw(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function readBody(req: IncomingMessage): Promise<string> {
  return (await readRaw(req)).toString('utf8');
}

/** A create/update body: JSON, YAML, or (from kubectl's typed clients) Kubernetes protobuf. */
async function readObject(req: IncomingMessage): Promise<unknown> {
  const raw = await readRaw(req);
  const ct = req.headers['content-type'];
  if (ct?.includes('protobuf')) return decodeKubeProtobuf(raw);
  return parseBody(raw.toString('utf8'), ct);
}

function parseBody(text: string, contentType: string | undefined): unknown {
  if (text.trim() === '') throw badRequest('the body of the request was empty');
  try {
    if (contentType?.includes('yaml')) return parseYaml(text) as unknown;
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw badRequest(`couldn't get version/kind; json parse error: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function verbOf(method: string, t: Target, q: URLSearchParams): string {
  switch (method) {
    case 'GET':
      if (t.name !== undefined) return 'get';
      return queryFlag(q, 'watch') ? 'watch' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return t.name !== undefined ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

function listJson(def: ResourceDef, items: Entry[], meta: JsonObject): string {
  const head = JSON.stringify({ apiVersion: groupVersion(def.group, def.version), kind: def.listKind, metadata: meta });
  return `${head.slice(0, -1)},"items":[${items.map((e) => e.json).join(',')}]}`;
}

export class Router {
  constructor(private readonly d: RouterDeps) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (this.d.faults.latencyMs > 0) await new Promise((r) => setTimeout(r, this.d.faults.latencyMs));
      await this.route(req, res);
    } catch (e) {
      if (e instanceof ApiError) sendError(res, e);
      else sendError(res, internalError(e instanceof Error ? e.message : String(e)));
    }
  }

  /** Who the request acts as: authenticated (401 otherwise), impersonation applied, authorized (403). */
  private admitRequest(req: IncomingMessage, url: URL, method: string): UserInfo {
    const authz = this.d.authz;
    const requestor = this.d.authn.authenticate(req.headers.authorization);
    const user = impersonate(requestor, req.headers, (a) => authz.authorize(a), forbidden);
    authz.check(requestAttributes(user, method, url.pathname, url.searchParams));
    return user;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const seg = url.pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const user = this.admitRequest(req, url, method);
    if (method === 'GET' && seg.length === 1 && ['healthz', 'livez', 'readyz'].includes(seg[0] ?? '')) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Content-Length': 2 });
      res.end('ok');
      return;
    }
    const reg = this.d.store.registry;
    const [s0, s1, s2] = seg;
    if (method === 'GET') {
      // kubectl <= 1.29 reads OpenAPI v2 only as protobuf.
      if (seg.join('/') === 'openapi/v2' && /protobuf/.test(req.headers.accept ?? '')) {
        this.d.count('discovery');
        const body = encodeV2(v2Document(this.d.store.registry));
        res.writeHead(200, { 'Content-Type': 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf', 'Content-Length': body.length });
        res.end(body);
        return;
      }
      const discovery = this.discovery(seg, url);
      if (discovery !== undefined) {
        this.d.count('discovery');
        if (discovery === null) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
        send(res, 200, discovery);
        return;
      }
    }
    let group: string;
    let version: string;
    let rest: string[];
    if (s0 === 'api' && s1 === 'v1') [group, version, rest] = ['', 'v1', seg.slice(2)];
    else if (s0 === 'apis' && s1 !== undefined && s2 !== undefined) [group, version, rest] = [s1, s2, seg.slice(3)];
    else throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3 && !(rest.length === 3 && (rest[2] === 'status' || rest[2] === 'finalize'))) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [resource, name, sub] = rest;
    const def = resource !== undefined ? reg.get({ group, version, resource }) : undefined;
    if (!def || (def.namespaced === false && namespace !== undefined)) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
    const t: Target = { def, namespace, name, sub, subPath: rest.slice(3).join('/') };
    const q = url.searchParams;
    const verb = verbOf(method, t, q);
    this.d.count(verb);
    const fault = this.d.faults.takeFailure(verb, sub ? `${def.resource}/${sub}` : def.resource) ?? this.d.faults.takeFailure(verb, def.resource);
    if (fault === 429) throw tooManyRequests();
    if (fault === 500) throw internalError('injected fault');
    if (def.virtual) {
      if (verb !== 'create' || name !== undefined) throw methodNotAllowed();
      send(res, 201, this.d.authApi.review(def, await readObject(req), namespace, user));
      return;
    }
    if (sub === 'token' && def.resource === 'serviceaccounts' && def.group === '' && name !== undefined && namespace !== undefined) {
      if (method !== 'POST') throw methodNotAllowed();
      send(res, 201, this.d.authApi.tokenRequest(namespace, name, await readObject(req)));
      return;
    }
    if (sub !== undefined && !(sub === 'status' && def.hasStatus) && !(sub === 'proxy' && def.kind === 'Node' && def.group === '')) {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
    }
    if (def.namespaced && name !== undefined && namespace === undefined) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
    if (sub === 'proxy') return this.proxy(req, res, t, url);
    await this.rest(req, res, t, verb, q, user);
  }

  /** undefined: not a discovery path; null: a discovery path that does not exist. */
  private discovery(seg: string[], url: URL): object | null | undefined {
    const reg = this.d.store.registry;
    const p = seg.join('/');
    if (p === 'version') {
      const m = /^v(\d+)\.(\d+)/.exec(this.d.gitVersion);
      return { major: m?.[1] ?? '1', minor: m?.[2] ?? '32', gitVersion: this.d.gitVersion, gitCommit: '0000000000000000000000000000000000000000', gitTreeState: 'clean', buildDate: '2025-01-01T00:00:00Z', goVersion: 'go1.23.4', compiler: 'gc', platform: 'linux/amd64' };
    }
    if (p === 'healthz' || p === 'livez' || p === 'readyz') return undefined;
    if (p === 'api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: this.d.serverAddress() }] };
    if (p === 'api/v1') return reg.resourceList('', 'v1') ?? null;
    if (p === 'apis') return reg.apiGroupList();
    if (seg[0] === 'apis' && seg.length === 2) return reg.apiGroup(seg[1] ?? '') ?? null;
    if (seg[0] === 'apis' && seg.length === 3) return reg.resourceList(seg[1] ?? '', seg[2] ?? '') ?? null;
    if (p === 'openapi/v2') return v2Document(reg);
    if (p === 'openapi/v3') return v3Index(reg);
    if (seg[0] === 'openapi' && seg[1] === 'v3') {
      if (seg[2] === 'api' && seg[3] === 'v1' && seg.length === 4) return gvDocument(reg, '', 'v1') ?? null;
      if (seg[2] === 'apis' && seg.length === 5) return gvDocument(reg, seg[3] ?? '', seg[4] ?? '') ?? null;
      return null;
    }
    void url;
    return undefined;
  }

  private async proxy(req: IncomingMessage, res: ServerResponse, t: Target, url: URL): Promise<void> {
    this.d.store.getEntry(t.def, t.name ?? '');
    const handler = this.d.nodeProxy();
    if (!handler) throw new ApiError(503, 'ServiceUnavailable', `no endpoints available for node "${t.name ?? ''}"`);
    let r: { status: number; body: string; contentType?: string };
    try {
      const method = req.method ?? 'GET';
      r = await handler(t.name ?? '', `/${t.subPath}${url.search}`, { method, body: method === 'GET' ? '' : await readBody(req) });
    } catch (e) {
      throw new ApiError(503, 'ServiceUnavailable', `error trying to reach service: ${e instanceof Error ? e.message : String(e)}`);
    }
    res.writeHead(r.status, { 'Content-Type': r.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(r.body) });
    res.end(r.body);
  }

  private async rest(req: IncomingMessage, res: ServerResponse, t: Target, verb: string, q: URLSearchParams, user: UserInfo): Promise<void> {
    const { def, namespace } = t;
    const store = this.d.store;
    const table = wantsTable(req.headers.accept);
    const includeObject = q.get('includeObject');
    const fv = q.get('fieldValidation');
    const warnings: string[] = [];
    const wopts: WriteOptions = { fieldValidation: fv === 'Strict' || fv === 'Ignore' ? (fv as FieldValidation) : 'Warn', warnings, user };
    if (namespace !== undefined) wopts.namespace = namespace;
    if (q.getAll('dryRun').includes('All')) wopts.dryRun = true;
    if (t.sub === 'status') wopts.subresource = 'status';
    const reply = (code: number, e: Entry): void => {
      const headers: Record<string, string> = {};
      if (warnings.length > 0) headers['Warning'] = warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ');
      if (table) send(res, code, toTable(def, [e.obj], { resourceVersion: e.obj.metadata.resourceVersion ?? '' }, includeObject), headers);
      else send(res, code, e.json, headers);
    };
    switch (verb) {
      case 'get':
        reply(200, store.getEntry(def, t.name ?? '', namespace));
        return;
      case 'list': {
        const limit = Number(q.get('limit') ?? '0');
        const opts: Parameters<ObjectStore['listEntries']>[1] = {};
        if (namespace !== undefined) opts.namespace = namespace;
        for (const k of ['labelSelector', 'fieldSelector', 'continue', 'resourceVersion', 'resourceVersionMatch'] as const) {
          const v = q.get(k);
          if (v) opts[k] = v;
        }
        if (limit > 0) opts.limit = limit;
        const r = store.listEntries(def, opts);
        const meta: JsonObject = { resourceVersion: r.resourceVersion };
        if (r.continue) meta['continue'] = r.continue;
        if (r.remainingItemCount !== undefined) meta['remainingItemCount'] = r.remainingItemCount;
        if (table) send(res, 200, toTable(def, r.items.map((e) => e.obj), meta, includeObject));
        else send(res, 200, listJson(def, r.items, meta));
        return;
      }
      case 'watch':
        serveWatch(req, res, { store, def, namespace, query: q, forceGone: !!q.get('resourceVersion') && q.get('resourceVersion') !== '0' && this.d.faults.takeGone(), bookmarkIntervalMs: this.d.bookmarkIntervalMs, open: this.d.openWatches });
        return;
      case 'create': {
        if (t.name !== undefined) throw methodNotAllowed();
        const body = await readObject(req);
        reply(201, store.createEntry(def, body, wopts));
        return;
      }
      case 'update': {
        const body = await readObject(req);
        reply(200, store.updateEntry(def, body, wopts, t.name));
        return;
      }
      case 'patch': {
        const ct = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
        const type = PATCH_CONTENT_TYPES[ct];
        if (!type) throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
        if (type === 'strategic' && def.fromCRD) throw new ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml');
        const text = await readBody(req);
        const body = type === 'apply' ? undefined : parseBody(text, 'application/json');
        reply(200, store.patchEntry(def, t.name ?? '', type, body, wopts));
        return;
      }
      case 'delete': {
        const text = await readBody(req);
        const opts = text.trim() ? parseBody(text, 'application/json') : {};
        const delOpts: Parameters<ObjectStore['deleteEntry']>[3] = {};
        if (isObject(opts)) {
          if (isObject(opts['preconditions'])) delOpts.preconditions = opts['preconditions'] as { uid?: string; resourceVersion?: string };
          if (Array.isArray(opts['dryRun']) && opts['dryRun'].includes('All')) delOpts.dryRun = true;
        }
        if (wopts.dryRun) delOpts.dryRun = true;
        if (wopts.user) delOpts.user = wopts.user;
        delOpts.warnings = warnings;
        const r = store.deleteEntry(def, t.name ?? '', namespace, delOpts);
        if (def.returnDeletedObject || !r.removed) reply(200, r.entry);
        else send(res, 200, successStatus({ name: t.name, group: def.group, kind: def.resource, uid: r.entry.obj.metadata.uid }));
        return;
      }
      case 'deletecollection': {
        const opts: Parameters<ObjectStore['listEntries']>[1] = {};
        if (namespace !== undefined) opts.namespace = namespace;
        const ls = q.get('labelSelector');
        const fs = q.get('fieldSelector');
        if (ls) opts.labelSelector = ls;
        if (fs) opts.fieldSelector = fs;
        const items = store.listEntries(def, opts).items;
        for (const e of items) store.deleteEntry(def, e.obj.metadata.name ?? '', e.obj.metadata.namespace, wopts.user ? { user: wopts.user } : {});
        send(res, 200, successStatus());
        return;
      }
      default:
        throw methodNotAllowed();
    }
  }
}
