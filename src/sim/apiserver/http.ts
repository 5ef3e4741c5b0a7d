// HTTP routing: discovery, OpenAPI, node proxy, and the REST verbs on every served resource.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import type { AuthApi } from './auth-api.js';
import { type Authenticator, impersonate } from './authn.js';
import { type Authorizer, forbidden, requestAttributes } from './authz.js';
import { ApiError, badRequest, internalError, methodNotAllowed, successStatus, tooManyRequests } from './errors.js';
import type { Faults } from './faults.js';
import { discoveryDocument } from './discovery.js';
import { v2Document } from './openapi.js';
import { encodeV2 } from './openapi-pb.js';
import { PATCH_CONTENT_TYPES } from './patch.js';
import { decodeKubeProtobuf } from './protobuf.js';
import type { ResourceDef } from './registry.js';
import type { Entry, ListOptions, ObjectStore, WriteOptions } from './store.js';
import { toTable, wantsTable } from './table.js';
import { type JsonObject, groupVersion, isObject } from './types.js';
import type { UserInfo } from './userinfo.js';
import { checkListOptions, queryFlag, readListQuery, watchCauses, watchDefaults, watchListGate } from './list-options.js';
import { serveWatch } from './watch-http.js';

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

const notFoundPath = (): ApiError => new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});

/** One admitted request. */
interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  method: string;
  user: UserInfo;
}

/** A REST verb on a served resource, with what every verb reads from the request. */
interface RestCall extends Call {
  d: RouterDeps;
  t: Target;
  q: URLSearchParams;
  /** dryRun, fieldValidation, the subresource and the requester; `warnings` collects the answer's. */
  wopts: WriteOptions & { warnings: string[] };
  /** Answers with one object (JSON or a Table), and the warnings. */
  reply: (code: number, e: Entry) => void;
  /** Answers with a list (JSON or a Table). */
  replyList: (items: Entry[], meta: JsonObject) => void;
}

function restCall(call: Call, d: RouterDeps, t: Target): RestCall {
  const { res } = call;
  const q = call.url.searchParams;
  const fv = q.get('fieldValidation');
  const warnings: string[] = [];
  const wopts: RestCall['wopts'] = { fieldValidation: fv === 'Strict' || fv === 'Ignore' ? fv : 'Warn', warnings, user: call.user };
  if (t.namespace !== undefined) wopts.namespace = t.namespace;
  if (q.getAll('dryRun').includes('All')) wopts.dryRun = true;
  if (t.sub === 'status') wopts.subresource = 'status';
  const table = wantsTable(call.req.headers.accept);
  const includeObject = q.get('includeObject');
  const reply = (code: number, e: Entry): void => {
    const headers: Record<string, string> = {};
    if (warnings.length > 0) headers['Warning'] = warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ');
    if (table) send(res, code, toTable(t.def, [e.obj], { resourceVersion: e.obj.metadata.resourceVersion ?? '' }, includeObject), headers);
    else send(res, code, e.json, headers);
  };
  const replyList = (items: Entry[], meta: JsonObject): void => {
    if (table) send(res, 200, toTable(t.def, items.map((e) => e.obj), meta, includeObject));
    else send(res, 200, listJson(t.def, items, meta));
  };
  return { ...call, d, t, q, wopts, reply, replyList };
}

type ListQueryKey = 'labelSelector' | 'fieldSelector' | 'continue' | 'resourceVersion' | 'resourceVersionMatch';

/** The list options a list or deletecollection takes from the query. */
function listOptions(c: RestCall, keys: readonly ListQueryKey[]): ListOptions {
  const opts: ListOptions = {};
  if (c.t.namespace !== undefined) opts.namespace = c.t.namespace;
  for (const k of keys) {
    const v = c.q.get(k);
    if (v) opts[k] = v;
  }
  return opts;
}

function listVerb(c: RestCall): void {
  const opts = listOptions(c, ['labelSelector', 'fieldSelector', 'continue', 'resourceVersion', 'resourceVersionMatch']);
  const limit = Number(c.q.get('limit') ?? '0');
  if (limit > 0) opts.limit = limit;
  const sendInitialEvents = readListQuery(c.q, watchListGate(c.d.gitVersion)).sendInitialEvents;
  if (sendInitialEvents !== undefined) opts.sendInitialEvents = sendInitialEvents;
  const r = c.d.store.listEntries(c.t.def, opts);
  const meta: JsonObject = { resourceVersion: r.resourceVersion };
  if (r.continue) meta['continue'] = r.continue;
  if (r.remainingItemCount !== undefined) meta['remainingItemCount'] = r.remainingItemCount;
  c.replyList(r.items, meta);
}

/** A watch, its options checked as the real handler checks them: a 422 before the stream starts. */
function watchVerb(c: RestCall): void {
  const { d, q } = c;
  const gate = watchListGate(d.gitVersion);
  const o = watchDefaults(readListQuery(q, gate), gate);
  checkListOptions(watchCauses(o, gate));
  const rv = o.resourceVersion;
  const forceGone = rv !== '' && rv !== '0' && d.faults.takeGone();
  const { sendInitialEvents } = o;
  serveWatch(c.req, c.res, { store: d.store, def: c.t.def, namespace: c.t.namespace, query: q, forceGone, sendInitialEvents, bookmarkIntervalMs: d.bookmarkIntervalMs, open: d.openWatches });
}

const UNKNOWN_PATCH_TYPE = 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml';

async function patchVerb(c: RestCall): Promise<void> {
  const ct = (c.req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
  const type = PATCH_CONTENT_TYPES[ct];
  // Custom resources take no strategic merge patch: they have no patch strategy to follow.
  if (!type || (type === 'strategic' && c.t.def.fromCRD)) throw new ApiError(415, 'UnsupportedMediaType', UNKNOWN_PATCH_TYPE);
  const text = await readBody(c.req);
  const body = type === 'apply' ? undefined : parseBody(text, 'application/json');
  c.reply(200, c.d.store.patchEntry(c.t.def, c.t.name ?? '', type, body, c.wopts));
}

/** DeleteOptions from the body (preconditions, dryRun) and the query. */
function deleteOptions(text: string, c: RestCall): Parameters<ObjectStore['deleteEntry']>[3] {
  const opts = text.trim() ? parseBody(text, 'application/json') : {};
  const delOpts: Parameters<ObjectStore['deleteEntry']>[3] = {};
  if (isObject(opts)) {
    if (isObject(opts['preconditions'])) delOpts.preconditions = opts['preconditions'];
    if (Array.isArray(opts['dryRun']) && opts['dryRun'].includes('All')) delOpts.dryRun = true;
  }
  if (c.wopts.dryRun) delOpts.dryRun = true;
  if (c.wopts.user) delOpts.user = c.wopts.user;
  delOpts.warnings = c.wopts.warnings;
  return delOpts;
}

async function deleteVerb(c: RestCall): Promise<void> {
  const { def, name, namespace } = c.t;
  const r = c.d.store.deleteEntry(def, name ?? '', namespace, deleteOptions(await readBody(c.req), c));
  // A finalizer-held object (not removed yet) is answered as it now stands, as are the kinds
  // whose delete returns the object; others get a Success Status.
  if (def.returnDeletedObject || !r.removed) c.reply(200, r.entry);
  else send(c.res, 200, successStatus({ name, group: def.group, kind: def.resource, uid: r.entry.obj.metadata.uid }));
}

function deleteCollectionVerb(c: RestCall): void {
  const { store } = c.d;
  const { def } = c.t;
  const user = c.wopts.user;
  for (const e of store.listEntries(def, listOptions(c, ['labelSelector', 'fieldSelector'])).items) {
    store.deleteEntry(def, e.obj.metadata.name ?? '', e.obj.metadata.namespace, user ? { user } : {});
  }
  send(c.res, 200, successStatus());
}

/** The REST verbs on a resource, by the name RBAC knows them (verbOf). */
const VERBS: Record<string, (c: RestCall) => void | Promise<void>> = {
  get: (c) => c.reply(200, c.d.store.getEntry(c.t.def, c.t.name ?? '', c.t.namespace)),
  list: listVerb,
  watch: watchVerb,
  create: async (c) => {
    if (c.t.name !== undefined) throw methodNotAllowed();
    c.reply(201, c.d.store.createEntry(c.t.def, await readObject(c.req), c.wopts));
  },
  update: async (c) => c.reply(200, c.d.store.updateEntry(c.t.def, await readObject(c.req), c.wopts, c.t.name)),
  patch: patchVerb,
  delete: deleteVerb,
  deletecollection: deleteCollectionVerb,
};

/** `<resource>[/<name>[/<subresource>[/<path>]]]`, after `/api/v1` or `/apis/<group>/<version>`
 *  and an optional `namespaces/<ns>`; 404 for a resource not served (or not namespaced). */
function resourceTarget(seg: string[], registry: ObjectStore['registry']): Target {
  const [s0, s1, s2] = seg;
  let group: string;
  let version: string;
  let rest: string[];
  if (s0 === 'api' && s1 === 'v1') [group, version, rest] = ['', 'v1', seg.slice(2)];
  else if (s0 === 'apis' && s1 !== undefined && s2 !== undefined) [group, version, rest] = [s1, s2, seg.slice(3)];
  else throw notFoundPath();
  let namespace: string | undefined;
  // `namespaces/<ns>/status` and `/finalize` are subresources of the Namespace, not a scope.
  if (rest[0] === 'namespaces' && rest.length >= 3 && !(rest.length === 3 && (rest[2] === 'status' || rest[2] === 'finalize'))) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, sub] = rest;
  const def = resource !== undefined ? registry.get({ group, version, resource }) : undefined;
  if (!def || (!def.namespaced && namespace !== undefined)) throw notFoundPath();
  return { def, namespace, name, sub, subPath: rest.slice(3).join('/') };
}

/** 404 for a subresource the resource does not have, or a namespaced object named without its namespace. */
function checkServed(t: Target): void {
  const { def, sub } = t;
  const served = sub === undefined || (sub === 'status' && def.hasStatus) || (sub === 'proxy' && def.kind === 'Node' && def.group === '');
  if (!served || (def.namespaced && t.name !== undefined && t.namespace === undefined)) throw notFoundPath();
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
    const call: Call = { req, res, url, method, user: this.admitRequest(req, url, method) };
    if (method === 'GET' && this.serveNonResource(call, seg)) return;
    const t = resourceTarget(seg, this.d.store.registry);
    const verb = verbOf(method, t, url.searchParams);
    this.d.count(verb);
    if (this.injectFault(verb, t) === 'stall') {
      await new Promise((resolve) => res.once('close', resolve));
      return;
    }
    if (await this.serveAuthApi(call, t, verb)) return;
    checkServed(t);
    if (t.sub === 'proxy') return this.proxy(call, t);
    const handler = VERBS[verb];
    if (!handler) throw methodNotAllowed();
    await handler(restCall(call, this.d, t));
  }

  /** Health checks, OpenAPI v2 as protobuf, discovery; false for any other path. */
  private serveNonResource(call: Call, seg: string[]): boolean {
    const { req, res } = call;
    const path = seg.join('/');
    if (path === 'healthz' || path === 'livez' || path === 'readyz') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Content-Length': 2 });
      res.end('ok');
      return true;
    }
    // kubectl <= 1.29 reads OpenAPI v2 only as protobuf.
    if (path === 'openapi/v2' && /protobuf/.test(req.headers.accept ?? '')) {
      this.d.count('discovery');
      const body = encodeV2(v2Document(this.d.store.registry));
      res.writeHead(200, { 'Content-Type': 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf', 'Content-Length': body.length });
      res.end(body);
      return true;
    }
    const doc = discoveryDocument(seg, { registry: this.d.store.registry, gitVersion: this.d.gitVersion, serverAddress: this.d.serverAddress });
    if (doc === undefined) return false;
    this.d.count('discovery');
    if (doc === null) throw notFoundPath();
    send(res, 200, doc);
    return true;
  }

  /** A failure injected by the tests (faults.failNext) for this verb on this resource: thrown,
   *  or 'stall' for the caller to leave the request unanswered. */
  private injectFault(verb: string, t: Target): 'stall' | undefined {
    const { faults } = this.d;
    const resource = t.def.resource;
    const fault = faults.takeFailure(verb, t.sub ? `${resource}/${t.sub}` : resource) ?? faults.takeFailure(verb, resource);
    if (fault === 429) throw tooManyRequests();
    if (fault === 500) throw internalError('injected fault');
    return fault;
  }

  /** The create-only review kinds and ServiceAccount TokenRequests; false for anything else. */
  private async serveAuthApi(call: Call, t: Target, verb: string): Promise<boolean> {
    const { def, name, namespace } = t;
    if (def.virtual) {
      if (verb !== 'create' || name !== undefined) throw methodNotAllowed();
      send(call.res, 201, this.d.authApi.review(def, await readObject(call.req), namespace, call.user));
      return true;
    }
    if (t.sub === 'token' && def.resource === 'serviceaccounts' && def.group === '' && name !== undefined && namespace !== undefined) {
      if (call.method !== 'POST') throw methodNotAllowed();
      send(call.res, 201, this.d.authApi.tokenRequest(namespace, name, await readObject(call.req)));
      return true;
    }
    return false;
  }

  private async proxy(call: Call, t: Target): Promise<void> {
    this.d.store.getEntry(t.def, t.name ?? '');
    const handler = this.d.nodeProxy();
    if (!handler) throw new ApiError(503, 'ServiceUnavailable', `no endpoints available for node "${t.name ?? ''}"`);
    let r: { status: number; body: string; contentType?: string };
    try {
      const { method } = call;
      r = await handler(t.name ?? '', `/${t.subPath}${call.url.search}`, { method, body: method === 'GET' ? '' : await readBody(call.req) });
    } catch (e) {
      throw new ApiError(503, 'ServiceUnavailable', `error trying to reach service: ${e instanceof Error ? e.message : String(e)}`);
    }
    call.res.writeHead(r.status, { 'Content-Type': r.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(r.body) });
    call.res.end(r.body);
  }
}
