// The set of served resources: built-ins plus whatever the established CRDs declare. Discovery
// documents are derived from it, so applying a CRD makes its resource servable at once.

import { type JsonObject, type KubeObject, type PrinterColumn, type ResourceRef, groupVersion, isObject, resKey } from './types.js';
import type { Schema } from './schema.js';
import { ALL_VERBS, type SubresourceDef, builtinDef, reviewDefs, storedBuiltinDefs } from './builtin-kinds.js';

export interface ResourceDef extends ResourceRef {
  kind: string;
  listKind: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: string[];
  hasStatus: boolean;
  /** The real server returns the deleted object for CRs; Status Success for most built-ins. */
  returnDeletedObject: boolean;
  /** Structural schema of a CR version (validation, defaulting, pruning). */
  schema?: Schema;
  printerColumns?: PrinterColumn[];
  /** Objects live under another resource (events.k8s.io/v1 events are core/v1 events). */
  storage?: ResourceRef;
  fromCRD?: string;
  /** Kinds whose objects carry no metadata.generation on a real server (Secret, RBAC, ...). */
  noGeneration?: boolean;
  /** Create-only review APIs: answered from the request, nothing stored. */
  virtual?: boolean;
  /** Subresources other than status (serviceaccounts/token). */
  subresources?: SubresourceDef[];
}

function builtin(r: ResourceRef, kind: string, namespaced: boolean, shortNames: string[], hasStatus: boolean, extra: Partial<ResourceDef> = {}): ResourceDef {
  return builtinDef(r, kind, namespaced, { shortNames, hasStatus, ...extra });
}

export function builtinDefs(): ResourceDef[] {
  return [
    builtin({ group: '', version: 'v1', resource: 'nodes' }, 'Node', false, ['no'], true),
    builtin({ group: '', version: 'v1', resource: 'namespaces' }, 'Namespace', false, ['ns'], true, { returnDeletedObject: true, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] }),
    builtin({ group: '', version: 'v1', resource: 'configmaps' }, 'ConfigMap', true, ['cm'], false),
    // Served (and normally empty) so `kubectl describe node` can list the node's pods.
    builtin({ group: '', version: 'v1', resource: 'pods' }, 'Pod', true, ['po'], true, { categories: ['all'] }),
    builtin({ group: '', version: 'v1', resource: 'events' }, 'Event', true, ['ev'], false),
    builtin({ group: 'events.k8s.io', version: 'v1', resource: 'events' }, 'Event', true, ['ev'], false, {
      storage: { group: '', version: 'v1', resource: 'events' },
    }),
    // The Lease strategy keeps no generation (PrepareForCreate and PrepareForUpdate leave it unset).
    builtin({ group: 'coordination.k8s.io', version: 'v1', resource: 'leases' }, 'Lease', true, [], false, { noGeneration: true }),
    builtin({ group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions' }, 'CustomResourceDefinition', false, ['crd', 'crds'], true, {
      categories: ['api-extensions'],
      returnDeletedObject: true,
    }),
    ...storedBuiltinDefs(),
    ...reviewDefs(),
  ];
}

function str(v: unknown, dflt = ''): string {
  return typeof v === 'string' ? v : dflt;
}

function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** One ResourceDef per served version of a CRD. */
export function defsFromCRD(crd: KubeObject): ResourceDef[] {
  const spec = isObject(crd['spec']) ? crd['spec'] : {};
  const names = isObject(spec['names']) ? spec['names'] : {};
  const group = str(spec['group']);
  const plural = str(names['plural']);
  const kind = str(names['kind']);
  const versions = Array.isArray(spec['versions']) ? spec['versions'].filter(isObject) : [];
  const out: ResourceDef[] = [];
  for (const v of versions) {
    if (v['served'] === false) continue;
    const subs = isObject(v['subresources']) ? v['subresources'] : {};
    const schemaHolder = isObject(v['schema']) ? v['schema'] : {};
    const schema = isObject(schemaHolder['openAPIV3Schema']) ? (schemaHolder['openAPIV3Schema'] as Schema) : undefined;
    const cols = Array.isArray(v['additionalPrinterColumns']) ? v['additionalPrinterColumns'].filter(isObject) : [];
    const def: ResourceDef = {
      group,
      version: str(v['name']),
      resource: plural,
      kind,
      listKind: str(names['listKind'], `${kind}List`),
      singular: str(names['singular'], kind.toLowerCase()),
      namespaced: spec['scope'] === 'Namespaced',
      shortNames: strList(names['shortNames']),
      categories: strList(names['categories']),
      verbs: ALL_VERBS,
      hasStatus: isObject(subs['status']),
      returnDeletedObject: true,
      printerColumns: cols.map((c) => {
        const col: PrinterColumn = { name: str(c['name']), type: str(c['type'], 'string'), jsonPath: str(c['jsonPath']) };
        if (typeof c['description'] === 'string') col.description = c['description'];
        if (typeof c['priority'] === 'number') col.priority = c['priority'];
        if (typeof c['format'] === 'string') col.format = c['format'];
        return col;
      }),
      fromCRD: crd.metadata.name ?? '',
    };
    if (schema) def.schema = schema;
    out.push(def);
  }
  return out;
}

export class Registry {
  private readonly defs = new Map<string, ResourceDef>();

  constructor() {
    for (const d of builtinDefs()) this.defs.set(resKey(d), d);
  }

  get(r: ResourceRef): ResourceDef | undefined {
    return this.defs.get(resKey(r));
  }

  all(): ResourceDef[] {
    return [...this.defs.values()];
  }

  /** Serves one more built-in resource (the admission kinds register themselves this way). */
  addBuiltin(def: ResourceDef): void {
    if (!this.defs.has(resKey(def))) this.defs.set(resKey(def), def);
  }

  addCRD(crd: KubeObject): ResourceDef[] {
    this.removeCRD(crd.metadata.name ?? '');
    const defs = defsFromCRD(crd);
    for (const d of defs) this.defs.set(resKey(d), d);
    return defs;
  }

  removeCRD(crdName: string): ResourceDef[] {
    const removed: ResourceDef[] = [];
    for (const [k, d] of this.defs) {
      if (d.fromCRD === crdName) {
        this.defs.delete(k);
        removed.push(d);
      }
    }
    return removed;
  }

  /** Group -> versions, core group excluded, in registration order. */
  groups(): Map<string, string[]> {
    const m = new Map<string, string[]>();
    for (const d of this.defs.values()) {
      if (d.group === '') continue;
      const vs = m.get(d.group) ?? [];
      if (!vs.includes(d.version)) vs.push(d.version);
      m.set(d.group, vs);
    }
    return m;
  }

  apiGroupList(): JsonObject {
    const groups = [...this.groups()].map(([name, versions]) => {
      const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
      return { name, versions: vs, preferredVersion: vs[0] };
    });
    return { kind: 'APIGroupList', apiVersion: 'v1', groups };
  }

  apiGroup(group: string): JsonObject | undefined {
    const versions = this.groups().get(group);
    if (!versions) return undefined;
    const vs = versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
    return { kind: 'APIGroup', apiVersion: 'v1', name: group, versions: vs, preferredVersion: vs[0] };
  }

  resourceList(group: string, version: string): JsonObject | undefined {
    const defs = this.all().filter((d) => d.group === group && d.version === version);
    if (defs.length === 0) return undefined;
    const resources: JsonObject[] = [];
    for (const d of defs) {
      const r: JsonObject = { name: d.resource, singularName: d.singular, namespaced: d.namespaced, kind: d.kind, verbs: d.verbs };
      if (d.shortNames.length) r['shortNames'] = d.shortNames;
      if (d.categories.length) r['categories'] = d.categories;
      resources.push(r);
      if (d.hasStatus) resources.push({ name: `${d.resource}/status`, singularName: '', namespaced: d.namespaced, kind: d.kind, verbs: ['get', 'patch', 'update'] });
      if (d.resource === 'nodes' && d.group === '') resources.push({ name: 'nodes/proxy', singularName: '', namespaced: false, kind: 'NodeProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'] });
      for (const s of d.subresources ?? []) {
        resources.push({ name: `${d.resource}/${s.name}`, singularName: '', namespaced: d.namespaced, ...(s.group !== undefined ? { group: s.group, version: s.version } : {}), kind: s.kind, verbs: s.verbs });
      }
    }
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersion(group, version), resources };
  }
}
