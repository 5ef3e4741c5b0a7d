// The seeded policy corpus of the fuzz tests, shared with the test that holds the API server and
// `kto validate` to the same verdicts (test/core/verdicts.test.ts):
//  - fuzzCase: valid policies, some mutated (wrong types, unknown fields, out-of-range numbers,
//    odd endpoints, bad selectors, deep nesting, long strings) - test/fuzz/policies.test.ts;
//  - endpointCase: specs assembled from endpoint pieces, rates and gates - test/core/fuzz.test.ts.
import { isObject } from '../../src/sim/kubelet/config.js';
import { prng } from './prng.js';

export { prng };

export type Rand = () => number;
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
export const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
export const chance = (r: Rand, p: number): boolean => r() < p;


// ---- valid documents ----------------------------------------------------------------------

const HOSTS = ['otel', 'otel-collector.observability.svc', 'localhost', '10.0.0.7', '[::1]', 'a.b-c.d', 'collector'];
function validEndpoint(r: Rand): string {
  switch (int(r, 0, 6)) {
    case 0: return `${pick(r, HOSTS)}:${int(r, 1, 65535)}`;
    case 1: return `dns:///${pick(r, HOSTS)}:${int(r, 1, 65535)}`;
    case 2: return `dns:///${pick(r, HOSTS)}:4317`;
    case 3: return `unix:///run/otel/${pick(r, ['otel.sock', 'c.sock', 'x'])}`;
    case 4: return `dns:${pick(r, HOSTS)}:${int(r, 1, 65535)}`;
    case 5: return `unix:/run/${pick(r, ['otel.sock', 'x'])}`;
    default: return pick(r, HOSTS.filter((h) => !h.includes(':')));
  }
}

const LABEL_KEYS = ['node-role.kubernetes.io/worker', 'topology.kubernetes.io/zone', 'tier', 'kubernetes.io/os', 'a', 'x.y/z_1'];
const LABEL_VALUES = ['', 'zone-a', 'linux', 'v1.2', 'A_b-c'];

function validSelector(r: Rand): Json {
  const sel: { [k: string]: Json } = {};
  if (chance(r, 0.6)) sel['matchLabels'] = Object.fromEntries(Array.from({ length: int(r, 0, 3) }, () => [pick(r, LABEL_KEYS), pick(r, LABEL_VALUES)]));
  if (chance(r, 0.5)) {
    sel['matchExpressions'] = Array.from({ length: int(r, 0, 3) }, () => {
      const operator = pick(r, ['In', 'NotIn', 'Exists', 'DoesNotExist']);
      const req: { [k: string]: Json } = { key: pick(r, LABEL_KEYS), operator };
      if (operator === 'In' || operator === 'NotIn') req['values'] = Array.from({ length: int(r, 1, 3) }, () => pick(r, LABEL_VALUES));
      else if (chance(r, 0.3)) req['values'] = [];
      return req;
    });
  }
  return sel;
}

export function validDoc(r: Rand, i: number): { [k: string]: Json } {
  const tracing: { [k: string]: Json } = {};
  if (chance(r, 0.7)) tracing['endpoint'] = validEndpoint(r);
  if (chance(r, 0.8)) tracing['samplingRatePerMillion'] = pick(r, [0, 1, 1_000_000, int(r, 0, 1_000_000)]);
  const spec: { [k: string]: Json } = { tracing };
  if (chance(r, 0.6)) spec['nodeSelector'] = validSelector(r);
  if (chance(r, 0.5)) spec['featureGate'] = pick(r, ['Auto', 'Always', 'Never']);
  if (chance(r, 0.3)) spec['priority'] = int(r, -1000, 1000);
  if (chance(r, 0.6)) {
    const rollout: { [k: string]: Json } = {};
    if (chance(r, 0.7)) rollout['maxUnavailable'] = chance(r, 0.5) ? int(r, 1, 500) : `${int(r, 1, 100)}%`;
    if (chance(r, 0.3)) rollout['paused'] = chance(r, 0.5);
    if (chance(r, 0.4)) rollout['minReadySeconds'] = int(r, 0, 3600);
    if (chance(r, 0.4)) rollout['nodeTimeoutSeconds'] = int(r, 1, 3600);
    if (chance(r, 0.4)) rollout['maxFailures'] = int(r, 0, 10);
    if (chance(r, 0.4)) rollout['verify'] = pick(r, ['AgentReport', 'Configz']);
    spec['rollout'] = rollout;
  }
  const metadata: { [k: string]: Json } = { name: `p-${i}` };
  if (chance(r, 0.2)) metadata['labels'] = { team: 'obs' };
  if (chance(r, 0.2)) metadata['annotations'] = { note: 'fuzz' };
  return { apiVersion: 'nodetracing.dev/v1alpha1', kind: 'NodeTracingPolicy', metadata, spec };
}

// ---- mutations ----------------------------------------------------------------------------

const ODD_ENDPOINTS = [
  'http://otel:4317', 'https://otel:4317', 'grpc://otel:4317', 'otel:0', 'otel:65536', 'otel:99999', 'otel:', 'otel:grpc', 'otel:-1',
  'a b:4317', 'otel\t:4317', 'otel\n', 'h%zz:1', '::1:4317', '', ' ', 'dns://', 'unix:', '//', 'ü.example:4317', 'x'.repeat(600),
  'dns://otel:4317/path?q#f', 'DNS://OTEL:4317', 'unix-abstract:otel', 'dns://otel-collector:4317', 'unix://run/x', 'unix:run/x', 'dns:otel:0', 'otel:08', '[::1]:4317', '[::1', 'u@otel:4317', '\u0000',
];

function wrongValue(r: Rand, depth = 0): Json {
  switch (int(r, 0, 13)) {
    case 0: return null;
    case 1: return chance(r, 0.5);
    case 2: return -int(r, 1, 1e9);
    case 3: return 1e12 + int(r, 0, 9);
    case 4: return r() * 10 - 5; // a float
    case 5: return Number.MAX_SAFE_INTEGER;
    case 6: return pick(r, ['', '1', '0', 'true', '50%', '0%', '101%', '-1', '1.5', 'Auto ', 'x'.repeat(int(r, 200, 2000))]);
    case 7: return pick(r, ODD_ENDPOINTS);
    case 8: return [];
    case 9: return depth < 3 ? [wrongValue(r, depth + 1), wrongValue(r, depth + 1)] : [1];
    case 10: return {};
    case 11: return depth < 3 ? { [pick(r, ['a', 'tracing', 'spec', '__proto__', 'constructor'])]: wrongValue(r, depth + 1) } : { a: 1 };
    case 12: return deep(r, int(r, 20, 300));
    default: return pick(r, [0, 1, 1_000_000, 1_000_001, 65535, 65536]);
  }
}

function deep(r: Rand, levels: number): Json {
  let v: Json = pick(r, [1, 'leaf', null, []]);
  for (let i = 0; i < levels; i++) v = chance(r, 0.5) ? { n: v } : [v];
  return v;
}

/** Every (parent, key) place in the document, to aim mutations at. */
function places(doc: Json, out: Array<[Json[] | { [k: string]: Json }, string | number]> = []): typeof out {
  if (doc === null || typeof doc !== 'object') return out;
  for (const [k, v] of Array.isArray(doc) ? doc.entries() : Object.entries(doc)) {
    out.push([doc, k]);
    places(v, out);
  }
  return out;
}

export function mutate(r: Rand, doc: { [k: string]: Json }, unknownTop: Set<string>): string {
  const kind = int(r, 0, 8);
  const all = places(doc);
  const [parent, key] = pick(r, all);
  const set = (v: Json): void => {
    if (Array.isArray(parent)) parent[key as number] = v;
    else parent[key as string] = v;
  };
  const spec = isObject(doc['spec']) ? doc['spec'] : undefined;
  switch (kind) {
    case 0: set(wrongValue(r)); return `wrong value at ${String(key)}`;
    case 1:
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
      return `deleted ${String(key)}`;
    case 2: {
      // An unknown field somewhere (at the top level it names its own error path).
      const objs = all.map(([p]) => p).filter((p): p is { [k: string]: Json } => !Array.isArray(p));
      const target = chance(r, 0.3) ? doc : pick(r, objs.length ? objs : [doc]);
      const name = pick(r, ['extra', 'Spec', 'tracing', 'endpoint', 'maxunavailable', 'x-y', 'sampling_rate', '__proto__', 'toString', 'status']);
      if (target === doc && !['spec', 'metadata', 'apiVersion', 'kind', 'status'].includes(name)) unknownTop.add(name);
      // As JSON.parse does: an own property, even for "__proto__" (assignment would set the prototype).
      Object.defineProperty(target, name, { value: wrongValue(r), enumerable: true, writable: true, configurable: true });
      return `unknown field ${name}`;
    }
    case 3:
      if (spec) spec['tracing'] = { ...(isObject(spec['tracing']) ? spec['tracing'] : {}), endpoint: pick(r, ODD_ENDPOINTS) };
      return 'odd endpoint';
    case 4:
      if (spec) spec['tracing'] = { samplingRatePerMillion: pick(r, [-1, 1_000_001, 0.5, 1e300, '7', null, true, -0]) };
      return 'odd rate';
    case 5:
      if (spec) {
        spec['nodeSelector'] = {
          matchExpressions: [{ key: pick(r, ['', '-a', 'a/', '/a', 'A/b', 'x'.repeat(70), 'ok']), operator: pick(r, ['In', 'in', 'Equals', '', 'Exists', 'Gt']), ...(chance(r, 0.5) ? { values: pick(r, [[], ['-bad-'], ['ok'], [1], 'ok', ['x'.repeat(64)]] as Json[]) } : {}) }],
          ...(chance(r, 0.5) ? { matchLabels: { [pick(r, ['ok', 'bad key', 'a/b/c', ''])]: pick(r, ['ok', '-x', 'x'.repeat(64), 5, null] as Json[]) } } : {}),
        };
      }
      return 'bad selector';
    case 6:
      if (spec) spec['rollout'] = { maxUnavailable: pick(r, [0, -1, '0%', '101%', '5.5%', '%', ' 5%', '5', 1.5, 'all', null] as Json[]), nodeTimeoutSeconds: pick(r, [0, -5, 1, 'x'] as Json[]) };
      return 'odd rollout';
    case 7: set(deep(r, int(r, 50, 500))); return 'deep nesting';
    default:
      doc[pick(r, ['apiVersion', 'kind', 'metadata', 'spec'])] = wrongValue(r);
      return 'top-level field replaced';
  }
}

/** One case of the policy corpus: a valid document, mutated with probability 0.6. */
export function fuzzCase(r: Rand, i: number): { doc: { [k: string]: Json }; mutated: boolean; applied: string[]; unknownTop: Set<string> } {
  const doc = validDoc(r, i);
  const unknownTop = new Set<string>();
  const applied: string[] = [];
  const mutated = chance(r, 0.6);
  if (mutated) for (let m = int(r, 1, 3); m > 0; m--) applied.push(mutate(r, doc, unknownTop));
  return { doc, mutated, applied, unknownTop };
}

// ---- endpoint pieces (test/core/fuzz.test.ts) ----------------------------------------------

export const ENDPOINT_PIECES = {
  scheme: ['', '', '', 'dns:///', 'dns:///', 'dns:', 'dns://8.8.8.8/', 'dns://', 'unix://', 'unix:///', 'unix-abstract://', 'http://', 'https://', 'grpc://', 'DNS:///', 'unix:', ''],
  host: ['otel', 'otel-collector.observability.svc', 'localhost', '10.0.0.1', '[::1]', 'collector', 'a.b-c.d', 'x_1', '::1', 'a b', 'x\ty', 'h%41', 'h%zz', '', 'ü.example', '@', 'u@host'],
  port: ['', ':4317', ':4317', ':1', ':0', ':65535', ':65536', ':99999', ':', ':grpc', ':-1', ':08'],
  path: ['', '', '', '', '/', '/run/otel.sock', '/x?y', '#frag', '/a b'],
  rate: [undefined, 0, 1, 10000, 1_000_000, 1_000_001, -1, 0.5, '7', null],
  gate: [undefined, 'Auto', 'Always', 'Never', 'Sometimes'],
};

/** One spec assembled from endpoint pieces (the i-th call on `r` gives the i-th case). */
export function endpointCase(r: Rand, i: number): { apiVersion: string; kind: string; metadata: { name: string }; spec: Record<string, unknown> } {
  const tracing: Record<string, unknown> = {};
  if (r() < 0.9) tracing['endpoint'] = pick(r, ENDPOINT_PIECES.scheme) + pick(r, ENDPOINT_PIECES.host) + pick(r, ENDPOINT_PIECES.port) + pick(r, ENDPOINT_PIECES.path);
  const rate = pick(r, ENDPOINT_PIECES.rate);
  if (rate !== undefined) tracing['samplingRatePerMillion'] = rate;
  const spec: Record<string, unknown> = { tracing };
  const gate = pick(r, ENDPOINT_PIECES.gate);
  if (gate !== undefined) spec['featureGate'] = gate;
  return { apiVersion: 'nodetracing.dev/v1alpha1', kind: 'NodeTracingPolicy', metadata: { name: `f${i}` }, spec };
}
