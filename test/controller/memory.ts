// An in-memory cluster for Reconciler unit tests: the Writer the Reconciler writes through, and
// the caches it reads, in one place. A write lands in the cache at once (as if the watch were
// instant), and every write is logged in a short readable form the tests compare against.
import { A_APPLIED_HASH, A_DESIRED_HASH, A_POLICY, A_STATE, A_STATE_HASH, A_STATE_TIME, type AgentState } from '../../src/api/annotations.js';
import { FINALIZER, type NodeTracingPolicy, type NodeTracingPolicySpec, type NodeTracingPolicyStatus } from '../../src/api/types.js';
import type { CachedNode } from '../../src/controller/nodes.js';
import type { EventTarget, Writer } from '../../src/controller/writer.js';

export class MemoryCluster implements Writer {
  readonly policies = new Map<string, NodeTracingPolicy>();
  readonly nodes = new Map<string, CachedNode>();
  /** Every write, in order: `release n1 <hash> (p)`, `clear n1`, `status p`, `finalizers p [..]`, `event Warning Reason Kind/name`. */
  readonly writes: string[] = [];
  now = Date.UTC(2025, 0, 1);

  addNode(name: string, labels: Record<string, string> = {}, ours: Record<string, string> = {}): CachedNode {
    const n: CachedNode = { name, uid: `uid-${name}`, labels: { 'kubernetes.io/hostname': name, ...labels }, ours: { ...ours }, kubeletVersion: 'v1.31.2', ready: true };
    this.nodes.set(name, n);
    return n;
  }

  addPolicy(name: string, spec: Partial<NodeTracingPolicySpec> = {}, meta: Partial<NodeTracingPolicy['metadata']> = {}): NodeTracingPolicy {
    const p: NodeTracingPolicy = {
      apiVersion: 'nodetracing.dev/v1alpha1', kind: 'NodeTracingPolicy',
      metadata: { name, uid: `uid-${name}`, generation: 1, resourceVersion: '1', finalizers: [FINALIZER], ...meta },
      spec: { tracing: {}, ...spec },
    };
    this.policies.set(name, p);
    return p;
  }

  node(name: string): CachedNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** The node's agent finishes with what it was handed: `state` for its desired hash, now. */
  report(name: string, state: AgentState = 'Applied'): void {
    const n = this.node(name);
    const hash = n.ours[A_DESIRED_HASH];
    if (hash === undefined) throw new Error(`node ${name} was never released`);
    // A new object per change, as the informer caches them (the controller keys views on it).
    this.nodes.set(name, { ...n, ours: { ...n.ours, [A_STATE]: state, [A_STATE_HASH]: hash, [A_STATE_TIME]: new Date(this.now).toISOString(), ...(state === 'Applied' ? { [A_APPLIED_HASH]: hash } : {}) } });
  }

  /** Names of the nodes handed their config in `writes` from index `from` on. */
  released(from = 0): string[] {
    return this.writes.slice(from).filter((w) => w.startsWith('release ')).map((w) => w.split(' ')[1] ?? '');
  }

  condition(policy: string, type: string): string | undefined {
    return this.policies.get(policy)?.status?.conditions?.find((c) => c.type === type)?.status;
  }

  async patchNodeAnnotations(name: string, annotations: Record<string, string | null>): Promise<void> {
    const n = this.node(name);
    const ours = { ...n.ours };
    for (const [k, v] of Object.entries(annotations)) {
      if (v === null) delete ours[k];
      else ours[k] = v;
    }
    this.nodes.set(name, { ...n, ours });
    const hash = annotations[A_DESIRED_HASH];
    this.writes.push(hash !== undefined && hash !== null ? `release ${name} ${hash} (${annotations[A_POLICY] ?? '-'})` : `clear ${name}`);
  }

  async patchPolicyStatus(name: string, status: NodeTracingPolicyStatus): Promise<void> {
    const p = this.policies.get(name);
    if (!p) throw new Error(`no policy ${name}`);
    this.policies.set(name, { ...p, status: { ...p.status, ...status } });
    this.writes.push(`status ${name}`);
  }

  async setPolicyFinalizers(name: string, finalizers: string[], resourceVersion: string | undefined): Promise<void> {
    const p = this.policies.get(name);
    if (!p) throw new Error(`no policy ${name}`);
    if (resourceVersion !== p.metadata.resourceVersion) throw new Error(`policy ${name}: resourceVersion ${resourceVersion} is not ${p.metadata.resourceVersion}`);
    const rv = String(Number(p.metadata.resourceVersion ?? '0') + 1);
    // A deleting object whose last finalizer goes is gone, as the API server does it.
    if (p.metadata.deletionTimestamp && finalizers.length === 0) this.policies.delete(name);
    else this.policies.set(name, { ...p, metadata: { ...p.metadata, finalizers, resourceVersion: rv } });
    this.writes.push(`finalizers ${name} [${finalizers.join(',')}]`);
  }

  async event(target: EventTarget, type: 'Normal' | 'Warning', reason: string): Promise<void> {
    this.writes.push(`event ${type} ${reason} ${target.kind}/${target.name}`);
  }
}
