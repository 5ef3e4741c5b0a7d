// What a real server does to the built-in kinds of ./builtin-kinds.ts on the way in: drop unknown
// fields (reported for fieldValidation), apply the v1 defaults kubectl and the chart rely on, reset
// status on create, and validate with the real field paths and messages (pkg/apis/*/validation).

import { ApiError, type StatusCause } from './errors.js';
import { BUILTIN_SCHEMAS } from './builtin-schemas.js';
import type { ResourceDef } from './registry.js';
import { type Schema, pruneAndDefault } from './schema.js';
import { type JsonObject, type KubeObject, isObject, scalarText } from './types.js';
import { validateRbac } from './rbac-validate.js';
import { eventNamespaceCauses } from './hooks.js';

export interface BuiltinResult {
  obj: KubeObject;
  unknownFields: string[];
  causes: StatusCause[];
}

const required = (field: string, detail = ''): StatusCause => ({ reason: 'FieldValueRequired', field, message: detail ? `Required value: ${detail}` : 'Required value' });
const invalidCause = (field: string, value: string, detail: string): StatusCause => ({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${value}: ${detail}` });
const forbiddenCause = (field: string, detail: string): StatusCause => ({ reason: 'FieldValueForbidden', field, message: `Forbidden: ${detail}` });
const q = (s: unknown): string => JSON.stringify(scalarText(s));
const sub = (o: JsonObject, k: string): JsonObject => (isObject(o[k]) ? o[k] : {});

/** Go's %#v of a map[string]string, as validation messages print label maps. */
export function goStringMap(m: unknown): string {
  if (!isObject(m) || Object.keys(m).length === 0) return 'map[string]string(nil)';
  return `map[string]string{${Object.keys(m).sort().map((k) => `${JSON.stringify(k)}:${JSON.stringify(String(m[k]))}`).join(', ')}}`;
}

function goSelector(sel: JsonObject): string {
  const exprs = Array.isArray(sel['matchExpressions']) && sel['matchExpressions'].length > 0 ? `[]v1.LabelSelectorRequirement{...}` : '[]v1.LabelSelectorRequirement(nil)';
  return `v1.LabelSelector{MatchLabels:${goStringMap(sel['matchLabels'])}, MatchExpressions:${exprs}}`;
}

export function admitBuiltin(def: ResourceDef, obj: KubeObject, old: KubeObject | undefined): BuiltinResult {
  const key = `${def.group}/${def.kind}`;
  const known = BUILTIN_SCHEMAS[key];
  if (def.resource === 'events') return { obj, unknownFields: [], causes: eventNamespaceCauses(def.group, obj) };
  if (!known) return { obj, unknownFields: [], causes: [] };
  const unknownFields: string[] = [];
  const schema: Schema = { type: 'object', properties: known.properties as Record<string, Schema> };
  let out = pruneAndDefault(obj, schema, '', unknownFields, true) as KubeObject;
  out = { ...out, metadata: obj.metadata };
  const causes: StatusCause[] = [];
  switch (key) {
    case '/Secret':
      out = secret(out, old, causes);
      break;
    case '/Service':
      out = service(out, old, causes);
      break;
    case 'apps/Deployment':
    case 'apps/DaemonSet':
      out = workload(def.kind, out, old, causes);
      break;
    case 'policy/PodDisruptionBudget':
      out = pdb(out, old, causes);
      break;
    case 'admissionregistration.k8s.io/ValidatingAdmissionPolicy':
    case 'admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding':
      out = admissionDefaults(out);
      break;
    default:
      if (def.group === 'rbac.authorization.k8s.io') out = validateRbac(def.kind, out, old, causes);
  }
  return { obj: out, unknownFields, causes };
}

// ---- Secret ------------------------------------------------------------------------------

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function base64Error(v: string): number | undefined {
  // Every character before the first bad one is ASCII, so its index is Go's byte offset.
  const bad = v.search(/[^A-Za-z0-9+/=]/);
  if (bad >= 0) return bad;
  if (v.length % 4 !== 0 || !B64.test(v)) return v.length - (v.length % 4 || 4);
  return undefined;
}

function secret(s: KubeObject, old: KubeObject | undefined, causes: StatusCause[]): KubeObject {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(sub(s, 'data'))) {
    const at = typeof v === 'string' ? base64Error(v) : 0;
    // The real server fails while decoding []byte, before validation: a 400, not a 422.
    if (at !== undefined) throw new ApiError(400, 'BadRequest', `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte ${at}`);
    data[k] = String(v);
  }
  for (const [k, v] of Object.entries(sub(s, 'stringData'))) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
  const out: KubeObject = { ...s };
  delete out['stringData'];
  if (Object.keys(data).length > 0) out['data'] = data;
  else delete out['data'];
  out['type'] = typeof s['type'] === 'string' && s['type'] !== '' ? s['type'] : 'Opaque';
  for (const k of Object.keys(data)) {
    if (!CONFIG_KEY.test(k)) causes.push(invalidCause(`data[${k}]`, q(k), "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
  }
  const type = String(out['type']);
  const need = (k: string): void => {
    if (data[k] === undefined) causes.push(required(`data[${k}]`));
  };
  if (type === 'kubernetes.io/tls') ['tls.crt', 'tls.key'].forEach(need);
  if (type === 'kubernetes.io/dockerconfigjson') need('.dockerconfigjson');
  if (type === 'kubernetes.io/service-account-token' && !s.metadata.annotations?.['kubernetes.io/service-account.name']) causes.push(required('metadata.annotations[kubernetes.io/service-account.name]'));
  if (old) {
    if (old['type'] !== out['type']) causes.push(invalidCause('type', q(out['type']), 'field is immutable'));
    if (old['immutable'] === true) {
      if (JSON.stringify(old['data'] ?? {}) !== JSON.stringify(out['data'] ?? {})) causes.push(forbiddenCause('data', 'field is immutable when `immutable` is set'));
      if (out['immutable'] !== true) causes.push(forbiddenCause('immutable', 'field is immutable when `immutable` is set'));
    }
  }
  return out;
}

// ---- Service -----------------------------------------------------------------------------

function clusterIPFor(ns: string, name: string): string {
  // Stable per name, inside the default 10.96.0.0/12 service range (collisions do not matter here).
  let h = 2166136261;
  for (const c of `${ns}/${name}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return `10.${96 + ((h >>> 16) & 0x0f)}.${(h >>> 8) & 0xff}.${Math.max(1, h & 0xff)}`;
}

function service(s: KubeObject, old: KubeObject | undefined, causes: StatusCause[]): KubeObject {
  const spec = { ...sub(s, 'spec') };
  const type = typeof spec['type'] === 'string' ? spec['type'] : 'ClusterIP';
  spec['type'] = type;
  const types = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
  if (!types.includes(type)) causes.push({ reason: 'FieldValueNotSupported', field: 'spec.type', message: `Unsupported value: ${q(type)}: supported values: ${types.map((t) => q(t)).join(', ')}` });
  const ports = (Array.isArray(spec['ports']) ? spec['ports'] : []).filter(isObject).map((p): JsonObject => ({ protocol: 'TCP', ...p, targetPort: p['targetPort'] ?? p['port'] }));
  if (type !== 'ExternalName') {
    spec['sessionAffinity'] ??= 'None';
    spec['internalTrafficPolicy'] ??= 'Cluster';
    const oldSpec = old ? sub(old, 'spec') : {};
    const ip = typeof spec['clusterIP'] === 'string' && spec['clusterIP'] !== '' ? spec['clusterIP'] : typeof oldSpec['clusterIP'] === 'string' ? oldSpec['clusterIP'] : clusterIPFor(s.metadata.namespace ?? '', s.metadata.name ?? '');
    spec['clusterIP'] = ip;
    spec['clusterIPs'] = [ip];
    if (ip !== 'None') {
      spec['ipFamilies'] ??= ['IPv4'];
      spec['ipFamilyPolicy'] ??= 'SingleStack';
    }
    if (ports.length === 0 && ip !== 'None') causes.push(required('spec.ports'));
    if (old && typeof oldSpec['clusterIP'] === 'string' && oldSpec['clusterIP'] !== ip) causes.push(invalidCause('spec.clusterIPs[0]', `[]string{${q(ip)}}`, 'may not change once set'));
  }
  const names = new Set<string>();
  ports.forEach((p, i) => {
    const port = p['port'];
    if (typeof port !== 'number' || port < 1 || port > 65535) causes.push(invalidCause(`spec.ports[${i}].port`, scalarText(port, '0'), 'must be between 1 and 65535, inclusive'));
    const name = typeof p['name'] === 'string' ? p['name'] : '';
    if (ports.length > 1 && name === '') causes.push(required(`spec.ports[${i}].name`));
    if (name !== '' && names.has(name)) causes.push({ reason: 'FieldValueDuplicate', field: `spec.ports[${i}].name`, message: `Duplicate value: ${q(name)}` });
    names.add(name);
  });
  if (ports.length > 0) spec['ports'] = ports;
  const out: KubeObject = { ...s, spec };
  if (!old) out['status'] = { loadBalancer: {} };
  return out;
}

// ---- Deployment, DaemonSet ---------------------------------------------------------------

function imagePullPolicy(image: string): string {
  const last = image.split('/').pop() ?? '';
  const tag = last.includes('@') ? 'digest' : last.includes(':') ? last.slice(last.indexOf(':') + 1) : 'latest';
  return tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultContainer(c: JsonObject): JsonObject {
  const out: JsonObject = { terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', ...c };
  if (typeof c['image'] === 'string') out['imagePullPolicy'] ??= imagePullPolicy(c['image']);
  if (Array.isArray(c['ports'])) out['ports'] = c['ports'].filter(isObject).map((p) => ({ protocol: 'TCP', ...p }));
  out['resources'] ??= {};
  return out;
}

function defaultPodSpec(p: JsonObject): JsonObject {
  const out: JsonObject = { restartPolicy: 'Always', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst', securityContext: {}, schedulerName: 'default-scheduler', ...p };
  for (const k of ['containers', 'initContainers']) if (Array.isArray(p[k])) out[k] = p[k].filter(isObject).map(defaultContainer);
  // The v1 API mirrors serviceAccountName into the deprecated serviceAccount.
  if (typeof p['serviceAccountName'] === 'string') out['serviceAccount'] ??= p['serviceAccountName'];
  return out;
}

function selectorMatches(sel: JsonObject, labels: JsonObject): boolean {
  for (const [k, v] of Object.entries(sub(sel, 'matchLabels'))) if (labels[k] !== v) return false;
  for (const e of Array.isArray(sel['matchExpressions']) ? sel['matchExpressions'].filter(isObject) : []) {
    const k = scalarText(e['key']);
    const vals = Array.isArray(e['values']) ? e['values'].map(String) : [];
    const has = Object.prototype.hasOwnProperty.call(labels, k);
    const ok = e['operator'] === 'In' ? has && vals.includes(String(labels[k])) : e['operator'] === 'NotIn' ? !has || !vals.includes(String(labels[k])) : e['operator'] === 'Exists' ? has : !has;
    if (!ok) return false;
  }
  return true;
}

function workload(kind: string, w: KubeObject, old: KubeObject | undefined, causes: StatusCause[]): KubeObject {
  const spec = { ...sub(w, 'spec') };
  const template = { ...sub(spec, 'template') };
  const podSpec = defaultPodSpec(sub(template, 'spec'));
  template['spec'] = podSpec;
  spec['template'] = template;
  spec['revisionHistoryLimit'] ??= 10;
  if (kind === 'Deployment') {
    spec['replicas'] ??= 1;
    spec['progressDeadlineSeconds'] ??= 600;
    const strategy: JsonObject = { type: 'RollingUpdate', ...sub(spec, 'strategy') };
    if (strategy['type'] === 'RollingUpdate') strategy['rollingUpdate'] = { maxUnavailable: '25%', maxSurge: '25%', ...sub(strategy, 'rollingUpdate') };
    spec['strategy'] = strategy;
    if (typeof spec['replicas'] === 'number' && spec['replicas'] < 0) causes.push(invalidCause('spec.replicas', String(spec['replicas']), 'must be greater than or equal to 0'));
  } else {
    const strategy: JsonObject = { type: 'RollingUpdate', ...sub(spec, 'updateStrategy') };
    if (strategy['type'] === 'RollingUpdate') strategy['rollingUpdate'] = { maxUnavailable: 1, maxSurge: 0, ...sub(strategy, 'rollingUpdate') };
    spec['updateStrategy'] = strategy;
  }
  const sel = isObject(spec['selector']) ? spec['selector'] : undefined;
  const labels = sub(sub(template, 'metadata'), 'labels');
  if (!sel) causes.push(required('spec.selector'));
  else if (Object.keys(sub(sel, 'matchLabels')).length === 0 && !(Array.isArray(sel['matchExpressions']) && sel['matchExpressions'].length > 0)) {
    causes.push(invalidCause('spec.selector', goSelector(sel), `empty selector is invalid for ${kind.toLowerCase()}`));
  } else if (!selectorMatches(sel, labels)) causes.push(invalidCause('spec.template.metadata.labels', goStringMap(labels), '`selector` does not match template `labels`'));
  const containers = Array.isArray(podSpec['containers']) ? podSpec['containers'].filter(isObject) : [];
  if (containers.length === 0) causes.push(required('spec.template.spec.containers'));
  containers.forEach((c, i) => {
    if (typeof c['name'] !== 'string' || c['name'] === '') causes.push(required(`spec.template.spec.containers[${i}].name`));
    if (typeof c['image'] !== 'string' || c['image'] === '') causes.push(required(`spec.template.spec.containers[${i}].image`));
  });
  if (old && sel) {
    const oldSel = sub(sub(old, 'spec'), 'selector');
    if (JSON.stringify(oldSel) !== JSON.stringify(sel)) causes.push(invalidCause('spec.selector', goSelector(sel), 'field is immutable'));
  }
  const out: KubeObject = { ...w, spec };
  if (!old) out['status'] = kind === 'Deployment' ? {} : { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 };
  return out;
}

// ---- PodDisruptionBudget, admission policies ---------------------------------------------

function pdb(p: KubeObject, old: KubeObject | undefined, causes: StatusCause[]): KubeObject {
  const spec = sub(p, 'spec');
  if (spec['minAvailable'] !== undefined && spec['maxUnavailable'] !== undefined) {
    causes.push(invalidCause('spec', 'policy.PodDisruptionBudgetSpec{...}', 'minAvailable and maxUnavailable cannot be both set'));
  }
  const out: KubeObject = { ...p };
  if (!old) out['status'] = { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0 };
  return out;
}

function defaultMatchResources(m: JsonObject): JsonObject {
  const out: JsonObject = { namespaceSelector: {}, objectSelector: {}, matchPolicy: 'Equivalent', ...m };
  for (const k of ['resourceRules', 'excludeResourceRules']) if (Array.isArray(m[k])) out[k] = m[k].filter(isObject).map((r) => ({ scope: '*', ...r }));
  return out;
}

function admissionDefaults(o: KubeObject): KubeObject {
  const spec = { ...sub(o, 'spec') };
  if (o.kind === 'ValidatingAdmissionPolicy') {
    spec['failurePolicy'] ??= 'Fail';
    if (isObject(spec['matchConstraints'])) spec['matchConstraints'] = defaultMatchResources(spec['matchConstraints']);
  } else if (isObject(spec['matchResources'])) spec['matchResources'] = defaultMatchResources(spec['matchResources']);
  return { ...o, spec };
}
