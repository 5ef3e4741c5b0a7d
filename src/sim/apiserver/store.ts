// The write side of the store: create/update/patch/delete with the real apiserver's rules
// (resourceVersion, generation, status subresource split, finalizers, namespaces, CRDs),
// feeding the watch cache on every commit. Stored objects are never mutated; each write stores
// a fresh object (a patch's keeps the parts it did not change), and no text (see LazyEntry).

import { randomUUID } from 'node:crypto';
import { ApiError, alreadyExists, badRequest, conflict, invalid, notFound, type StatusCause } from './errors.js';
import type { StoredEvent } from './history.js';
import { admitBuiltin } from './builtin-validate.js';
import { establishCRD, eventCoreToV1, pruneKnownShape, validateCRD } from './hooks.js';
import { pathSegmentNameErrors } from './rbac-validate.js';
import { applyPatch, type PatchType } from './patch.js';
import type { ResourceDef } from './registry.js';
import { processCustomResource } from './schema.js';
import { crdRuleCauses } from './schema-rules.js';
import { objectMetaTypeProblem } from './objectmeta.js';
import { type AdmissionRequest, ValidatingAdmission, VAP, VAPB, admissionObjectCauses, isAdmissionKind, registerAdmissionKinds, withDefaults } from './admission/index.js';
import { DNS_SUBDOMAIN, type Entry, LazyEntry, StoreState, type WriteOptions, now, objKey } from './store-state.js';
import { type JsonObject, type KubeObject, type ResourceRef, CRDS, LEASES, NAMESPACES, arrayOf, deleteKey, groupVersion, isObject, resKey, scalarText } from './types.js';
import type { UserInfo } from './userinfo.js';

export type { Entry, FieldValidation, KubeList, ListOptions, ListResult, WatchOptions, WriteOptions } from './store-state.js';

export class ObjectStore extends StoreState {
  /** ValidatingAdmissionPolicy, for writes that name their requester (WriteOptions.user). */
  readonly admission = new ValidatingAdmission({
    policies: () => this.listEntries(VAP).items.map((e) => e.obj),
    bindings: () => this.listEntries(VAPB).items.map((e) => e.obj),
    namespace: (name) => this.table(resKey(NAMESPACES)).entries.get(objKey(undefined, name))?.obj,
  });

  constructor(historySize?: number) {
    super(historySize);
    registerAdmissionKinds(this.registry);
    for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      this.createEntry(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, {});
    }
    // The watch caches start here, at their initial list: a watch from an older resourceVersion
    // is answered 410 Gone, as by a real server.
    this.hub.reset(this.rv);
  }

  // ---- writes -----------------------------------------------------------------------------

  /** Stores a new version and sends its event, with its text for the watchers over HTTP.
   *  `lazyText`: no text; such a watcher makes it (see LazyEntry). `owned`: `obj` and its
   *  metadata were made for this write alone, so the new resourceVersion is set on them in
   *  place instead of on copies (a Lease renewal: 500 a second at 5,000 nodes). */
  private commit(def: ResourceDef, key: string, type: StoredEvent['type'], obj: KubeObject, prev?: KubeObject, { lazyText = false, owned = false }: { lazyText?: boolean | undefined; owned?: boolean } = {}): Entry {
    this.rv++;
    const resourceVersion = String(this.rv);
    let stored = obj;
    if (owned) stored.metadata.resourceVersion = resourceVersion;
    else stored = { ...obj, metadata: { ...obj.metadata, resourceVersion } };
    const json = lazyText ? undefined : JSON.stringify(stored);
    const storageKey = this.storageOf(def);
    const entry: Entry = new LazyEntry(stored);
    if (type === 'DELETED') this.table(storageKey).delete(key);
    else this.table(storageKey).set(key, entry);
    if (isAdmissionKind(def)) this.admission.invalidate();
    // Without its text, each watcher over HTTP makes it (once per event, shared: see memo).
    // Every field is set here, so the event is one object of one shape (the history keeps
    // thousands of them: no second block for the fields added later).
    const ev: StoredEvent = { rv: this.rv, res: storageKey, key, type, obj: stored, json, prev, frames: undefined };
    this.hub.push(ev);
    this.onCommit?.(ev);
    // The writer's answer carries the text already made.
    return json === undefined ? entry : { obj: stored, json };
  }

  /** Schema handling for custom resources and CRD checks; returns the object to store. */
  private admit(def: ResourceDef, obj: KubeObject, opts: WriteOptions, old?: KubeObject): KubeObject {
    const name = obj.metadata.name ?? '';
    const shape = pruneKnownShape(def.group, def.kind, obj);
    let out = shape.obj;
    const unknownFields = shape.unknownFields;
    let causes: StatusCause[];
    if (def.schema) {
      const r = processCustomResource(out, def.schema, old, opts.warnings);
      unknownFields.push(...r.unknownFields);
      causes = r.causes;
      out = { ...(r.obj as KubeObject), metadata: out.metadata };
    } else {
      const r = admitBuiltin(def, out, old);
      unknownFields.push(...r.unknownFields);
      causes = r.causes;
      out = r.obj;
    }
    const mode = opts.fieldValidation ?? 'Ignore';
    if (unknownFields.length > 0 && mode === 'Strict') {
      const list = unknownFields.map((f) => `unknown field "${f}"`).join(', ');
      throw badRequest(`${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: strict decoding error: ${list}`);
    }
    if (mode === 'Warn') for (const f of unknownFields) opts.warnings?.push(`unknown field "${f}"`);
    if (causes.length > 0) throw invalid(def.kind, def.group, name, causes);
    if (isCRD(def)) {
      const crdCauses = [...validateCRD(out), ...crdRuleCauses(out)];
      if (crdCauses.length > 0) throw invalid(def.kind, def.group, name, crdCauses);
    }
    if (isAdmissionKind(def) && opts.subresource !== 'status') {
      out = withDefaults(out);
      const admissionCauses = admissionObjectCauses(out);
      if (admissionCauses.length > 0) throw invalid(def.kind, def.group, name, admissionCauses);
    }
    return out;
  }

  private checkShape(def: ResourceDef, body: unknown): KubeObject {
    if (!isObject(body)) throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(body)}'`);
    const meta = body['metadata'] === undefined ? {} : body['metadata'];
    if (!isObject(meta)) throw badRequest('metadata: expected an object');
    const metaProblem = objectMetaTypeProblem(meta);
    if (metaProblem) throw badRequest(`${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: ${metaProblem}`);
    const gv = groupVersion(def.group, def.version);
    if (body['apiVersion'] !== undefined && body['apiVersion'] !== gv) {
      throw badRequest(`the API version in the data (${scalarText(body['apiVersion'])}) does not match the expected API version (${gv})`);
    }
    if (body['kind'] !== undefined && body['kind'] !== def.kind) throw badRequest(`the kind in the data (${scalarText(body['kind'])}) does not match the expected kind (${def.kind})`);
    return { ...body, apiVersion: gv, kind: def.kind, metadata: { ...meta } };
  }

  createEntry(res: ResourceRef, body: unknown, opts: WriteOptions = {}): Entry {
    const def = this.def(res);
    let obj = this.checkShape(def, body);
    const meta = obj.metadata;
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomUUID().slice(0, 5)}`;
    if (!meta.name) throw invalid(def.kind, def.group, '', [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }]);
    const nameProblems = def.group === 'rbac.authorization.k8s.io' ? pathSegmentNameErrors(meta.name) : subdomainProblems(meta.name);
    if (nameProblems.length > 0) {
      throw invalid(def.kind, def.group, meta.name, nameProblems.map((m) => ({ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: ${JSON.stringify(meta.name)}: ${m}` })));
    }
    if (def.fromCRD && this.terminating(def.fromCRD)) {
      throw new ApiError(405, 'MethodNotAllowed', 'create not allowed while custom resource definition is terminating', { group: def.group, kind: def.resource });
    }
    const ns = this.namespaceOf(def, obj, opts.namespace);
    if (def.resource !== 'namespaces') this.requireNamespace(ns);
    const key = objKey(ns, meta.name);
    const table = this.table(this.storageOf(def));
    if (table.entries.has(key)) throw alreadyExists(def.resource, def.group, meta.name);
    const created = now();
    obj.metadata = { ...meta, uid: randomUUID(), creationTimestamp: created, generation: 1 };
    if (def.noGeneration) delete obj.metadata.generation;
    if (ns !== undefined) obj.metadata.namespace = ns;
    else delete obj.metadata.namespace;
    delete obj.metadata.resourceVersion;
    delete obj.metadata.deletionTimestamp;
    if (def.fromCRD && def.hasStatus) delete obj['status'];
    if (def.resource === 'namespaces' && def.group === '') obj = { ...obj, status: { phase: 'Active' } };
    obj = this.admit(def, obj, opts);
    if (isCRD(def)) obj = establishCRD(obj, created);
    this.validatingAdmission({ def, operation: 'CREATE', name: meta.name, ...(ns !== undefined ? { namespace: ns } : {}), object: obj, oldObject: null }, opts);
    obj = this.toStorage(def, obj);
    if (opts.dryRun) return this.view(def, { obj, json: JSON.stringify(obj) });
    const entry = this.commit(def, key, 'ADDED', obj, undefined, { lazyText: opts.lazyText });
    if (isCRD(def)) this.serveCRD(entry.obj);
    return this.view(def, entry);
  }

  updateEntry(res: ResourceRef, body: unknown, opts: WriteOptions = {}, nameHint?: string): Entry {
    const def = this.def(res);
    const incoming = this.checkShape(def, body);
    const name = incoming.metadata.name ?? nameHint ?? '';
    if (nameHint !== undefined && incoming.metadata.name !== undefined && incoming.metadata.name !== nameHint) {
      throw badRequest(`the name of the object (${incoming.metadata.name}) does not match the name on the URL (${nameHint})`);
    }
    const ns = this.namespaceOf(def, incoming, opts.namespace);
    const key = objKey(ns, name);
    const cur = this.table(this.storageOf(def)).entries.get(key);
    if (!cur) throw notFound(def.resource, def.group, name);
    const old = def.storage ? eventCoreToV1(cur.obj) : cur.obj;
    const wantRv = incoming.metadata.resourceVersion;
    if (wantRv !== undefined && wantRv !== '' && wantRv !== old.metadata.resourceVersion) throw conflict(def.resource, def.group, name);
    let next = opts.subresource === 'status' ? this.statusUpdate(def, old, incoming, opts) : this.mainUpdate(def, old, withServerFields(def, old, incoming, name, ns), opts);
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    const sub = opts.subresource !== undefined ? { subresource: opts.subresource } : {};
    this.validatingAdmission({ def, operation: 'UPDATE', ...sub, name, ...(ns !== undefined ? { namespace: ns } : {}), object: next, oldObject: old }, opts);
    next = this.toStorage(def, next);
    if (opts.dryRun) return this.view(def, { obj: next, json: JSON.stringify(next) });
    return this.view(def, this.commitUpdate(def, key, next, cur, opts.lazyText));
  }

  /** The status subresource: the stored object with the new status; nothing else changes. */
  private statusUpdate(def: ResourceDef, old: KubeObject, incoming: KubeObject, opts: WriteOptions): KubeObject {
    const next = { ...old };
    if (incoming['status'] === undefined) delete next['status'];
    else next['status'] = incoming['status'];
    return def.schema ? this.admit(def, next, opts, old) : next;
  }

  /** The main resource (`next` already carries the stored status and server-owned metadata):
   *  no new finalizers once deleting, admission, and a new generation when the spec changed. */
  private mainUpdate(def: ResourceDef, old: KubeObject, next: KubeObject, opts: WriteOptions): KubeObject {
    const name = next.metadata.name ?? '';
    if (old.metadata.deletionTimestamp) {
      const added = (next.metadata.finalizers ?? []).filter((f) => !(old.metadata.finalizers ?? []).includes(f));
      if (added.length > 0) {
        throw invalid(def.kind, def.group, name, [{ reason: 'FieldValueForbidden', message: 'Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{' + added.map((f) => JSON.stringify(f)).join(', ') + '}', field: 'metadata.finalizers' }]);
      }
    }
    let out = this.admit(def, next, opts, old);
    if (!def.noGeneration && specChanged(old, out)) out.metadata.generation = (old.metadata.generation ?? 1) + 1;
    if (isCRD(def)) out = establishCRD(out, now());
    return out;
  }

  /** Stores an updated object: nothing when it is unchanged, a removal when it was being deleted
   *  and its last finalizer went, a MODIFIED event otherwise. */
  private commitUpdate(def: ResourceDef, key: string, next: KubeObject, cur: Entry, lazyText = false): Entry {
    if (jsonEqual(next, cur.obj)) return cur;
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0) return this.remove(def, key, next, cur.obj);
    const entry = this.commit(def, key, 'MODIFIED', next, cur.obj, { lazyText });
    if (isCRD(def)) this.serveCRD(entry.obj);
    return entry;
  }

  /**
   * A Lease renewal by a component of this process (the simulated kubelets: 500 a second at
   * 5,000 nodes): the stored Lease with a new spec.renewTime, committed as updateEntry commits
   * it (a new resourceVersion, a MODIFIED event to its watchers; a Lease keeps no generation),
   * without decoding and validating again an object of which only a timestamp changes, and without
   * making its text unless someone reads it (LazyEntry). Like every
   * in-process write without a user, it passes no admission. 404 when the Lease is gone.
   */
  renewLease(name: string, namespace: string, renewTime: string): Entry {
    const def = this.def(LEASES);
    const key = objKey(namespace, name);
    const cur = this.table(this.storageOf(def)).entries.get(key);
    if (!cur) throw notFound(def.resource, def.group, name);
    const spec = isObject(cur.obj['spec']) ? cur.obj['spec'] : {};
    if (spec['renewTime'] === renewTime) return this.view(def, cur);
    return this.view(def, this.commit(def, key, 'MODIFIED', { ...cur.obj, metadata: { ...cur.obj.metadata }, spec: { ...spec, renewTime } }, cur.obj, { lazyText: true, owned: true }));
  }

  patchEntry(res: ResourceRef, name: string, type: PatchType, body: unknown, opts: WriteOptions = {}): Entry {
    const cur = this.getEntry(res, name, opts.namespace);
    const patched = applyPatch(cur.obj, type, body);
    return this.updateEntry(res, patched, opts, name);
  }

  deleteEntry(res: ResourceRef, name: string, namespace?: string, opts: { dryRun?: boolean; preconditions?: { uid?: string; resourceVersion?: string }; user?: UserInfo; warnings?: string[] } = {}): { entry: Entry; removed: boolean } {
    const def = this.def(res);
    const ns = def.namespaced ? (namespace ?? 'default') : undefined;
    if (def.namespaced) this.requireNamespace(ns);
    const key = objKey(ns, name);
    const cur = this.table(this.storageOf(def)).entries.get(key);
    if (!cur) throw notFound(def.resource, def.group, name);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== cur.obj.metadata.uid) {
      throw conflict(def.resource, def.group, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.obj.metadata.uid ?? ''}`);
    }
    if (pre?.resourceVersion && pre.resourceVersion !== cur.obj.metadata.resourceVersion) {
      throw conflict(def.resource, def.group, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.obj.metadata.resourceVersion ?? ''}`);
    }
    this.validatingAdmission({ def, operation: 'DELETE', name, ...(ns !== undefined ? { namespace: ns } : {}), object: null, oldObject: this.view(def, cur).obj }, opts);
    if (opts.dryRun) return { entry: this.view(def, cur), removed: false };
    if (isCRD(def) && !cur.obj.metadata.deletionTimestamp) return { entry: this.view(def, this.terminateCRD(def, key, cur.obj)), removed: false };
    if ((cur.obj.metadata.finalizers ?? []).length > 0) {
      if (cur.obj.metadata.deletionTimestamp) return { entry: this.view(def, cur), removed: false };
      const next = { ...cur.obj, metadata: { ...cur.obj.metadata, deletionTimestamp: now(), deletionGracePeriodSeconds: 0 } };
      return { entry: this.view(def, this.commit(def, key, 'MODIFIED', next, cur.obj)), removed: false };
    }
    return { entry: this.view(def, this.remove(def, key, cur.obj, cur.obj)), removed: true };
  }

  /** Serves a CRD's resources; a new resource's watch cache starts now, as its cacher would. */
  private serveCRD(crd: KubeObject): void {
    for (const d of this.registry.addCRD(crd)) this.hub.open(this.storageOf(d), this.rv);
  }

  private remove(def: ResourceDef, key: string, obj: KubeObject, prev: KubeObject): Entry {
    const entry = this.commit(def, key, 'DELETED', obj, prev);
    if (isCRD(def)) {
      for (const d of this.registry.removeCRD(obj.metadata.name ?? '')) this.dropAll(d, undefined);
    }
    if (def.fromCRD) this.finalizeCRD(def.fromCRD);
    if (def.group === '' && def.resource === 'namespaces') {
      for (const d of this.registry.all()) if (d.namespaced && !d.storage) this.dropAll(d, obj.metadata.name);
    }
    return entry;
  }

  // ---- CRD deletion (apiextensions: the REST Delete and the CRD finalizer controller) ---------

  private terminating(crdName: string): boolean {
    return Boolean(this.table(resKey(CRDS)).entries.get(objKey(undefined, crdName))?.obj.metadata.deletionTimestamp);
  }

  /** The first delete of a CRD marks it (deletionTimestamp, the cleanup finalizer, Terminating),
   *  then its instances are deleted; each goes when its own finalizers allow, and the CRD with
   *  the last one. Until then no new instance can be created. */
  private terminateCRD(def: ResourceDef, key: string, crd: KubeObject): Entry {
    const finalizers = crd.metadata.finalizers ?? [];
    const status = isObject(crd['status']) ? crd['status'] : {};
    const conditions = arrayOf(status['conditions']).filter((c) => !isObject(c) || c['type'] !== 'Terminating');
    const next: KubeObject = {
      ...crd,
      metadata: { ...crd.metadata, deletionTimestamp: now(), finalizers: finalizers.includes(CRD_CLEANUP) ? finalizers : [...finalizers, CRD_CLEANUP] },
      status: { ...status, conditions: [...conditions, { type: 'Terminating', status: 'True', lastTransitionTime: now(), reason: 'InstanceDeletionInProgress', message: 'CustomResource deletion is in progress' }] },
    };
    const entry = this.commit(def, key, 'MODIFIED', next, crd);
    const name = crd.metadata.name ?? '';
    for (const d of this.instanceDefs(name)) {
      const t = this.table(this.storageOf(d));
      for (const k of [...t.keys()]) {
        const e = t.entries.get(k);
        if (e && !e.obj.metadata.deletionTimestamp) this.deleteEntry(d, e.obj.metadata.name ?? '', e.obj.metadata.namespace);
      }
    }
    this.finalizeCRD(name);
    return this.table(resKey(CRDS)).entries.get(key) ?? entry;
  }

  /** One def per storage table of a CRD's instances (every served version shares one). */
  private instanceDefs(crdName: string): ResourceDef[] {
    const seen = new Set<string>();
    return this.registry.all().filter((d) => d.fromCRD === crdName && !seen.has(this.storageOf(d)) && Boolean(seen.add(this.storageOf(d))));
  }

  /** A terminating CRD whose last instance is gone loses its cleanup finalizer, and goes. */
  private finalizeCRD(crdName: string): void {
    const key = objKey(undefined, crdName);
    const cur = this.table(resKey(CRDS)).entries.get(key);
    if (!cur?.obj.metadata.deletionTimestamp || !(cur.obj.metadata.finalizers ?? []).includes(CRD_CLEANUP)) return;
    if (this.instanceDefs(crdName).some((d) => this.table(this.storageOf(d)).entries.size > 0)) return;
    const finalizers = (cur.obj.metadata.finalizers ?? []).filter((f) => f !== CRD_CLEANUP);
    const crdDef = this.def(CRDS);
    const next = { ...cur.obj, metadata: { ...cur.obj.metadata, finalizers } };
    if (finalizers.length === 0) this.remove(crdDef, key, next, cur.obj);
    else this.commit(crdDef, key, 'MODIFIED', next, cur.obj);
  }

  /** Removes every object of a resource (in one namespace), with DELETED events. */
  private dropAll(def: ResourceDef, namespace: string | undefined): void {
    const storageKey = this.storageOf(def);
    const t = this.table(storageKey);
    for (const k of [...t.keys()]) {
      const e = t.entries.get(k);
      if (!e || (namespace !== undefined && e.obj.metadata.namespace !== namespace)) continue;
      this.commit(def, k, 'DELETED', e.obj, e.obj);
    }
    if (namespace === undefined) {
      this.tables.delete(storageKey);
      this.hub.closeAll(storageKey);
    }
  }

  /** Runs validating admission when the write names its requester; warnings go to the response. */
  private validatingAdmission(req: Omit<AdmissionRequest, 'user' | 'dryRun'>, opts: { user?: UserInfo; dryRun?: boolean; warnings?: string[] }): void {
    if (!opts.user) return;
    const warnings = this.admission.admit({ ...req, user: opts.user, dryRun: opts.dryRun === true });
    opts.warnings?.push(...warnings);
  }

  // ---- persistence ------------------------------------------------------------------------

  snapshot(): { resourceVersion: number; objects: { res: string; obj: KubeObject }[] } {
    const objects: { res: string; obj: KubeObject }[] = [];
    // CRDs first so their resources exist when the objects are loaded.
    const order = [...this.tables.keys()].sort((a, b) => Number(b === resKey(CRDS)) - Number(a === resKey(CRDS)));
    for (const k of order) for (const e of this.tables.get(k)?.entries.values() ?? []) objects.push({ res: k, obj: e.obj });
    return { resourceVersion: this.rv, objects };
  }

  load(state: { resourceVersion: number; objects: { res: string; obj: KubeObject }[] }): void {
    this.tables.clear();
    this.hub.closeAll();
    for (const d of this.registry.all()) if (d.fromCRD) this.registry.removeCRD(d.fromCRD);
    for (const { res, obj } of state.objects) {
      const key = objKey(obj.metadata.namespace, obj.metadata.name ?? '');
      this.table(res).set(key, new LazyEntry(obj));
      if (res === resKey(CRDS)) this.registry.addCRD(obj);
    }
    this.rv = state.resourceVersion;
    this.hub.reset(this.rv);
    this.admission.invalidate();
  }
}

/** The finalizer apiextensions puts on a CRD being deleted, until its instances are gone. */
const CRD_CLEANUP = 'customresourcecleanup.apiextensions.k8s.io';

const isCRD = (def: ResourceDef): boolean => def.group === CRDS.group && def.resource === CRDS.resource;

/** Metadata only the server sets: an update keeps the stored values (or their absence). */
const SERVER_OWNED_META = ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation'] as const;

/** The incoming object of a main-resource update, with what the client may not change taken from
 *  the stored one: status (when it is a subresource), server-owned metadata, name and namespace. */
function withServerFields(def: ResourceDef, old: KubeObject, incoming: KubeObject, name: string, ns: string | undefined): KubeObject {
  const next: KubeObject = { ...incoming, metadata: { ...incoming.metadata } };
  if (def.hasStatus) {
    if (old['status'] === undefined) delete next['status'];
    else next['status'] = old['status'];
  }
  const meta: Record<string, unknown> = next.metadata;
  for (const k of SERVER_OWNED_META) {
    if (old.metadata[k] === undefined) deleteKey(meta, k);
    else meta[k] = old.metadata[k];
  }
  next.metadata.name = name;
  if (ns !== undefined) next.metadata.namespace = ns;
  else delete next.metadata.namespace;
  return next;
}

/** apimachinery IsDNS1123Subdomain: the length rule and the character rule, each its own message. */
function subdomainProblems(name: string): string[] {
  const out: string[] = [];
  if (name.length > 253) out.push('must be no more than 253 characters');
  if (!DNS_SUBDOMAIN.test(name)) {
    out.push("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
  }
  return out;
}

/** Everything but metadata and status (and the type), compared as JSON values. */
function specChanged(a: JsonObject, b: JsonObject): boolean {
  return !jsonEqual(a, b, SPEC_SKIP);
}

const SPEC_SKIP: ReadonlySet<string> = new Set(['metadata', 'status', 'apiVersion', 'kind']);

/** Equality of two values as JSON sees them (key order ignored, undefined members absent), without
 *  serialising them: every write compares, and the heartbeats alone write 500 times a second. */
function jsonEqual(a: unknown, b: unknown, skipTop?: ReadonlySet<string>): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i] ?? null, b[i] ?? null)) return false;
    return true;
  }
  if (!isObject(a) || !isObject(b)) return false;
  let na = 0;
  for (const k in a) {
    if (a[k] === undefined || skipTop?.has(k)) continue;
    na++;
    if (!jsonEqual(a[k], b[k])) return false;
  }
  let nb = 0;
  for (const k in b) if (b[k] !== undefined && !skipTop?.has(k)) nb++;
  return na === nb;
}

export type { StatusCause };
