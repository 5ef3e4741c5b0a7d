// One policy's reconcile at N nodes, in process, with a writer that only counts: what a single
// reconcile costs the controller mid-rollout (the rollout bench measures the whole process).
//   node --import tsx bench/reconcile.ts [--nodes 5000] [--runs 200]
import { A_APPLIED_HASH, A_DESIRED_CONFIG, A_DESIRED_HASH, A_DESIRED_TIME, A_POLICY, A_STATE, A_STATE_HASH, A_STATE_TIME } from '../src/api/annotations.js';
import { FINALIZER, type NodeTracingPolicy } from '../src/api/types.js';
import { trimNode, type CachedNode } from '../src/controller/nodes.js';
import { assignOwners } from '../src/controller/ownership.js';
import { Reconciler } from '../src/controller/reconcile.js';
import type { ApiWriter } from '../src/kube/writer.js';
import { render } from '../src/render/render.js';
import { simNodeObject } from '../src/sim/nodes.js';
import { VERSIONS } from './rollout.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const n = arg('nodes', 5000);
const runs = arg('runs', 200);
const policy: NodeTracingPolicy = {
  apiVersion: 'nodetracing.dev/v1alpha1', kind: 'NodeTracingPolicy',
  metadata: { name: 'bench', uid: 'u-bench', generation: 1, resourceVersion: '1', finalizers: [FINALIZER] },
  spec: { tracing: { endpoint: 'otel-collector.observability.svc:4317', samplingRatePerMillion: 10_000 }, rollout: { maxUnavailable: '10%', minReadySeconds: 0, nodeTimeoutSeconds: 600 } },
};
const now = Date.now();
// Mid-rollout: a third updated, a tenth in progress, the rest pending.
const nodes: CachedNode[] = Array.from({ length: n }, (_, i) => {
  const version = VERSIONS[i % VERSIONS.length] ?? 'v1.33.1';
  const obj = simNodeObject(`node-${i}`, i, version) as { metadata: { uid?: string; annotations: Record<string, string> } };
  obj.metadata.uid = `uid-${i}`;
  const r = render(policy.spec, version);
  const hash = r.supported ? r.hash : '';
  const t = new Date(now - 1000).toISOString();
  if (i % 3 === 0) Object.assign(obj.metadata.annotations, { [A_POLICY]: 'bench', [A_DESIRED_HASH]: hash, [A_DESIRED_TIME]: t, [A_DESIRED_CONFIG]: '{}', [A_STATE]: 'Applied', [A_STATE_HASH]: hash, [A_APPLIED_HASH]: hash, [A_STATE_TIME]: t });
  else if (i % 10 === 1) Object.assign(obj.metadata.annotations, { [A_POLICY]: 'bench', [A_DESIRED_HASH]: hash, [A_DESIRED_TIME]: t, [A_DESIRED_CONFIG]: '{}' });
  return trimNode(obj);
});
let writes = 0;
const writer = {
  patchNodeAnnotations: async () => void writes++,
  patchPolicyStatus: async () => void writes++,
  setPolicyFinalizers: async () => void writes++,
  event: async () => void writes++,
} as unknown as ApiWriter;
// Ownership as the controller keeps it: computed once (labels do not change in a rollout).
const owned = assignOwners([policy], nodes);
const r = new Reconciler({ policies: () => [policy], policy: () => policy, nodes: () => nodes, ownership: () => owned, writer, now: () => now });
const times: number[] = [];
for (let i = 0; i < runs; i++) {
  // As the cache does on an event: one node replaced by a new object.
  const k = (i * 7919) % n;
  const cur = nodes[k];
  if (cur) nodes[k] = { ...cur, ours: { ...cur.ours } };
  const s = performance.now();
  await r.reconcile('bench');
  times.push(performance.now() - s);
}
times.sort((a, b) => a - b);
const p = (q: number): string => (times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0).toFixed(2);
console.log(`${n} nodes, ${runs} reconciles: p50 ${p(0.5)} ms, p90 ${p(0.9)} ms, max ${p(1)} ms; ${writes} writes`);
