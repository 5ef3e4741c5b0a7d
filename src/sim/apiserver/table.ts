// meta.k8s.io/v1 Table responses for kubectl get: printer columns evaluated server-side,
// with the built-in columns the real server prints for nodes and friends.

import type { ResourceDef } from './registry.js';
import { type JsonObject, type KubeObject, type PrinterColumn, arrayOf, getPath, isObject, scalarText } from './types.js';
import { humanDuration } from '../../util/duration.js';

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
  cell: (o: KubeObject) => unknown;
}


function age(ts: unknown): string {
  if (typeof ts !== 'string') return '<unknown>';
  return humanDuration(Date.now() - Date.parse(ts));
}

/** The simple JSONPath CRD printer columns use: `.spec.a.b`, `.status.conditions[?(@.type=="Ready")].status`, `.a[0]`. */
export function evalJsonPath(obj: unknown, path: string): unknown {
  const p = path.trim().replace(/^\{(.*)\}$/, '$1').replace(/^\$/, '');
  const re = /\.([^.[\]]+)|\[(\d+)\]|\[\?\(@\.([\w.-]+)\s*==\s*["']([^"']*)["']\)\]|\['([^']+)'\]/gy;
  let cur: unknown = obj;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(p)) !== null) {
    consumed = re.lastIndex;
    if (m[1] !== undefined || m[5] !== undefined) cur = isObject(cur) ? cur[m[1] ?? m[5] ?? ''] : undefined;
    else if (m[2] !== undefined) cur = Array.isArray(cur) ? cur[Number(m[2])] : undefined;
    else if (m[3] !== undefined) {
      const field = m[3];
      const want = m[4];
      cur = Array.isArray(cur) ? cur.find((x) => String(getPath(x, field)) === want) : undefined;
    }
    if (cur === undefined) return undefined;
  }
  return consumed === p.length ? cur : undefined;
}

function cellFor(col: PrinterColumn, v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (col.type === 'date') return age(v);
  if (col.type === 'integer' || col.type === 'number') return typeof v === 'number' ? v : Number(v);
  if (col.type === 'boolean') return typeof v === 'boolean' ? v : v === 'true';
  if (typeof v === 'object') return JSON.stringify(v);
  return scalarText(v);
}

function col(name: string, cell: (o: KubeObject) => unknown, priority = 0, type = 'string', format = '', description = ''): Column {
  return { name, type, format, description, priority, cell };
}

const nameCol = col('Name', (o) => o.metadata.name ?? '', 0, 'string', 'name', 'Name must be unique within a namespace.');
const ageCol = col('Age', (o) => age(o.metadata.creationTimestamp), 0, 'string', '', 'CreationTimestamp is a timestamp representing the server time when this object was created.');

function nodeStatus(o: KubeObject): string {
  const conds = getPath(o, 'status.conditions');
  const ready = arrayOf(conds).find((c) => isObject(c) && c['type'] === 'Ready');
  let s = 'Unknown';
  if (isObject(ready)) s = ready['status'] === 'True' ? 'Ready' : ready['status'] === 'False' ? 'NotReady' : 'Unknown';
  if (getPath(o, 'spec.unschedulable') === true) s += ',SchedulingDisabled';
  return s;
}

function nodeRoles(o: KubeObject): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(o.metadata.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) roles.add(k.slice('node-role.kubernetes.io/'.length));
    else if (k === 'kubernetes.io/role' && v !== '') roles.add(v);
  }
  return roles.size === 0 ? '<none>' : [...roles].sort().join(',');
}

function nodeAddress(o: KubeObject, type: string): string {
  const addrs = getPath(o, 'status.addresses');
  const a = arrayOf(addrs).find((x) => isObject(x) && x['type'] === type);
  return isObject(a) && typeof a['address'] === 'string' ? a['address'] : '<none>';
}

const num = (o: KubeObject, p: string): number => {
  const v = getPath(o, p);
  return typeof v === 'number' ? v : 0;
};

function labelsText(m: unknown): string {
  return isObject(m) && Object.keys(m).length > 0 ? Object.entries(m).map(([k, v]) => `${k}=${String(v)}`).join(',') : '<none>';
}

function selector(o: KubeObject): string {
  return labelsText(getPath(o, 'spec.selector.matchLabels'));
}

const containers = (field: string) => (o: KubeObject): string => {
  const cs = getPath(o, 'spec.template.spec.containers');
  return Array.isArray(cs) ? cs.map((c) => (isObject(c) ? scalarText(c[field]) : '')).join(',') : '';
};

function servicePorts(o: KubeObject): string {
  const ps = getPath(o, 'spec.ports');
  if (!Array.isArray(ps) || ps.length === 0) return '<none>';
  return ps.filter(isObject).map((p) => `${String(p['port'])}${p['nodePort'] ? `:${scalarText(p['nodePort'])}` : ''}/${scalarText(p['protocol'], 'TCP')}`).join(',');
}

const subjects = (kind: string) => (o: KubeObject): string => {
  const ss = Array.isArray(o['subjects']) ? o['subjects'].filter(isObject) : [];
  return ss.filter((s) => s['kind'] === kind).map((s) => (kind === 'ServiceAccount' ? `${scalarText(s['namespace'])}/${String(s['name'])}` : String(s['name']))).join(', ');
};

function columnsFor(def: ResourceDef): Column[] {
  if (def.printerColumns !== undefined || def.fromCRD) {
    const extra = (def.printerColumns ?? []).map((c) => col(c.name, (o) => cellFor(c, evalJsonPath(o, c.jsonPath)), c.priority ?? 0, c.type === 'date' ? 'date' : c.type, c.format ?? '', c.description ?? ''));
    const hasAge = extra.some((c) => c.name.toLowerCase() === 'age');
    return [nameCol, ...extra, ...(hasAge ? [] : [ageCol])];
  }
  const str = (p: string) => (o: KubeObject) => scalarText(getPath(o, p));
  switch (`${def.group}/${def.resource}`) {
    case '/nodes':
      return [
        nameCol,
        col('Status', nodeStatus),
        col('Roles', nodeRoles),
        ageCol,
        col('Version', str('status.nodeInfo.kubeletVersion')),
        col('Internal-IP', (o) => nodeAddress(o, 'InternalIP'), 1),
        col('External-IP', (o) => nodeAddress(o, 'ExternalIP'), 1),
        col('OS-Image', str('status.nodeInfo.osImage'), 1),
        col('Kernel-Version', str('status.nodeInfo.kernelVersion'), 1),
        col('Container-Runtime', str('status.nodeInfo.containerRuntimeVersion'), 1),
      ];
    case '/namespaces':
      return [nameCol, col('Status', str('status.phase')), ageCol];
    case '/configmaps':
      return [nameCol, col('Data', (o) => Object.keys(isObject(o['data']) ? o['data'] : {}).length + Object.keys(isObject(o['binaryData']) ? o['binaryData'] : {}).length, 0, 'integer'), ageCol];
    case 'coordination.k8s.io/leases':
      return [nameCol, col('Holder', str('spec.holderIdentity')), ageCol];
    case '/events':
    case 'events.k8s.io/events':
      return [
        col('Last Seen', (o) => age(getPath(o, 'lastTimestamp') ?? getPath(o, 'deprecatedLastTimestamp') ?? getPath(o, 'eventTime') ?? o.metadata.creationTimestamp)),
        col('Type', str('type')),
        col('Reason', str('reason')),
        col('Object', (o) => {
          const io = getPath(o, 'involvedObject') ?? getPath(o, 'regarding');
          return isObject(io) ? `${scalarText(io['kind']).toLowerCase()}/${scalarText(io['name'])}` : '';
        }),
        col('Message', (o) => scalarText(getPath(o, 'message') ?? getPath(o, 'note'))),
      ];
    case 'apps/deployments':
      return [nameCol, col('Ready', (o) => `${num(o, 'status.readyReplicas')}/${num(o, 'spec.replicas')}`), col('Up-to-date', (o) => num(o, 'status.updatedReplicas'), 0, 'integer'), col('Available', (o) => num(o, 'status.availableReplicas'), 0, 'integer'), ageCol, col('Containers', containers('name'), 1), col('Images', containers('image'), 1), col('Selector', selector, 1)];
    case 'apps/daemonsets':
      return [nameCol, ...['desiredNumberScheduled', 'currentNumberScheduled', 'numberReady', 'updatedNumberScheduled', 'numberAvailable'].map((f, i) => col(['Desired', 'Current', 'Ready', 'Up-to-date', 'Available'][i] ?? f, (o) => num(o, `status.${f}`), 0, 'integer')), col('Node Selector', (o) => labelsText(getPath(o, 'spec.template.spec.nodeSelector'))), ageCol, col('Containers', containers('name'), 1), col('Images', containers('image'), 1), col('Selector', selector, 1)];
    case '/services':
      return [nameCol, col('Type', str('spec.type')), col('Cluster-IP', str('spec.clusterIP')), col('External-IP', (o) => (getPath(o, 'spec.externalIPs') as string[] | undefined)?.join(',') || '<none>'), col('Port(s)', servicePorts), ageCol, col('Selector', (o) => labelsText(getPath(o, 'spec.selector')), 1)];
    case '/serviceaccounts':
      return [nameCol, col('Secrets', (o) => (Array.isArray(o['secrets']) ? o['secrets'].length : 0), 0, 'integer'), ageCol];
    case '/secrets':
      return [nameCol, col('Type', str('type')), col('Data', (o) => Object.keys(isObject(o['data']) ? o['data'] : {}).length, 0, 'integer'), ageCol];
    case 'policy/poddisruptionbudgets':
      return [nameCol, col('Min Available', (o) => scalarText(getPath(o, 'spec.minAvailable'), 'N/A')), col('Max Unavailable', (o) => scalarText(getPath(o, 'spec.maxUnavailable'), 'N/A')), col('Allowed Disruptions', (o) => num(o, 'status.disruptionsAllowed'), 0, 'integer'), ageCol];
    case 'rbac.authorization.k8s.io/roles':
    case 'rbac.authorization.k8s.io/clusterroles':
      return [nameCol, col('Created At', (o) => o.metadata.creationTimestamp ?? '', 0, 'date')];
    case 'rbac.authorization.k8s.io/rolebindings':
    case 'rbac.authorization.k8s.io/clusterrolebindings':
      return [nameCol, col('Role', (o) => `${String(getPath(o, 'roleRef.kind'))}/${String(getPath(o, 'roleRef.name'))}`), ageCol, col('Users', subjects('User'), 1), col('Groups', subjects('Group'), 1), col('ServiceAccounts', subjects('ServiceAccount'), 1)];
    case 'admissionregistration.k8s.io/validatingadmissionpolicies':
      return [nameCol, col('Validations', (o) => (getPath(o, 'spec.validations') as unknown[] | undefined)?.length ?? 0, 0, 'integer'), col('ParamKind', (o) => { const k = getPath(o, 'spec.paramKind'); return isObject(k) ? `${String(k['apiVersion'])}/${String(k['kind'])}` : '<unset>'; }), ageCol];
    case 'admissionregistration.k8s.io/validatingadmissionpolicybindings':
      return [nameCol, col('PolicyName', str('spec.policyName')), col('ParamRef', (o) => (getPath(o, 'spec.paramRef') ? JSON.stringify(getPath(o, 'spec.paramRef')) : '<unset>')), ageCol];
    case 'apiextensions.k8s.io/customresourcedefinitions':
      return [nameCol, col('Created At', (o) => o.metadata.creationTimestamp ?? '', 0, 'date')];
    default:
      return [nameCol, ageCol];
  }
}

export function wantsTable(accept: string | undefined): boolean {
  return accept !== undefined && /as=Table/.test(accept) && /g=meta\.k8s\.io/.test(accept);
}

function partial(o: KubeObject): JsonObject {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
}

export function toTable(def: ResourceDef, objs: KubeObject[], meta: JsonObject, includeObject: string | null, withColumns = true): JsonObject {
  const cols = columnsFor(def);
  const rows = objs.map((o) => ({
    cells: cols.map((c) => c.cell(o)),
    object: includeObject === 'None' ? undefined : includeObject === 'Object' ? o : partial(o),
  }));
  const t: JsonObject = { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: meta };
  if (withColumns) t['columnDefinitions'] = cols.map((c) => ({ name: c.name, type: c.type, format: c.format, description: c.description, priority: c.priority }));
  else t['columnDefinitions'] = null;
  t['rows'] = rows;
  return t;
}
