// An embedded cluster with the CRD installed, for rollout tests: real HTTP, real client-node,
// real agents on every simulated node, built by the one wiring (src/wiring.ts).
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type NodeTracingPolicy, type NodeTracingPolicySpec } from '../../src/api/types.js';
import { newPolicy } from '../../src/api/policy.js';
import type { Controller, ControllerOptions } from '../../src/controller/controller.js';
import type { SimCluster, SimClusterOptions } from '../../src/sim/cluster.js';
import { mergePatch } from '../../src/kube/client.js';
import { Stack } from '../../src/wiring.js';

export { waitFor } from './poll.js';

/** The sampling rate a simulated node's kubelet runs with, as its /configz shows it. */
export function samplingRate(cluster: SimCluster, node: string): number | undefined {
  return (cluster.kubelets.get(node)?.configz()?.kubeletconfig['tracing'] as { samplingRatePerMillion?: number } | undefined)?.samplingRatePerMillion;
}

export interface Env {
  cluster: SimCluster;
  /** The wiring underneath (src/wiring.ts): telemetry, the cluster, the controllers. */
  stack: Stack;
  kc: k8s.KubeConfig;
  custom: k8s.CustomObjectsApi;
  core: k8s.CoreV1Api;
  controllers: Controller[];
  createPolicy(name: string, spec: Partial<NodeTracingPolicySpec>): Promise<void>;
  patchPolicySpec(name: string, spec: Partial<NodeTracingPolicySpec>): Promise<void>;
  getPolicy(name: string): Promise<NodeTracingPolicy | undefined>;
  startController(o?: Partial<ControllerOptions>): Promise<Controller>;
  stop(): Promise<void>;
}

const ref = { group: GROUP, version: VERSION, plural: PLURAL };

export async function startEnv(o: SimClusterOptions): Promise<Env> {
  // The CRD goes in as installing the chart would (client-node's typed CRD model would drop
  // `enum`, `default` and the x-kubernetes-* keys of a plain-object schema).
  const stack = await Stack.start({ cluster: { notReadyAfterMs: 2_000, installCrd: true, ...o } });
  const kc = stack.kubeConfig;
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return {
    // A test may put a new cluster in place of the first one; stop() stops that one.
    get cluster() {
      return stack.cluster;
    },
    set cluster(c: SimCluster) {
      stack.cluster = c;
    },
    stack,
    kc,
    custom,
    core,
    controllers: stack.controllers,
    async createPolicy(name, spec) {
      await custom.createClusterCustomObject({ ...ref, body: newPolicy(name, spec) });
    },
    async patchPolicySpec(name, spec) {
      await custom.patchClusterCustomObject({ ...ref, name, body: { spec } }, mergePatch);
    },
    async getPolicy(name) {
      try {
        return (await custom.getClusterCustomObject({ ...ref, name })) as NodeTracingPolicy;
      } catch (err) {
        if (err instanceof k8s.ApiException && err.code === 404) return undefined;
        throw err;
      }
    },
    startController: (co = {}) => stack.startController(co),
    stop: () => stack.stop(),
  };
}

export function condition(p: NodeTracingPolicy | undefined, type: string): { status: string; reason: string; message: string } | undefined {
  return p?.status?.conditions?.find((c) => c.type === type);
}

/** Policy converged: status describes the current generation and every target is updated. */
export function converged(p: NodeTracingPolicy | undefined): boolean {
  return Boolean(
    p?.status &&
      p.status.observedGeneration === p.metadata.generation &&
      condition(p, 'Ready')?.status === 'True' &&
      p.status.updatedNodes === p.status.targetNodes,
  );
}

/** Restarts per node, from the simulated kubelets' own logs. */
export function restartsByNode(env: Env): Map<string, number> {
  const m = new Map<string, number>([...env.cluster.kubelets.keys()].map((n) => [n, 0]));
  for (const r of env.cluster.restarts()) m.set(r.node, (m.get(r.node) ?? 0) + 1);
  return m;
}
