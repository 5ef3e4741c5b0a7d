// An embedded cluster with the CRD installed, for rollout tests: real HTTP, real client-node,
// real agents on every simulated node.
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type NodeTracingPolicy, type NodeTracingPolicySpec } from '../../src/api/types.js';
import { Controller, type ControllerOptions } from '../../src/controller/controller.js';
import { SimCluster, type SimClusterOptions } from '../../src/sim/cluster.js';
import { mergePatch } from '../../src/kube/client.js';

export interface Env {
  cluster: SimCluster;
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
  const cluster = await SimCluster.start({ notReadyAfterMs: 2_000, installCrd: true, ...o });
  const kc = cluster.kubeConfig();
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const controllers: Controller[] = [];
  const env: Env = {
    cluster,
    kc,
    custom,
    core,
    controllers,
    async createPolicy(name, spec) {
      const body: NodeTracingPolicy = { apiVersion: 'nodetracing.dev/v1alpha1', kind: 'NodeTracingPolicy', metadata: { name }, spec: { tracing: {}, ...spec } };
      await custom.createClusterCustomObject({ ...ref, body });
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
    async startController(co = {}) {
      const c = new Controller({ kubeConfig: kc, noLeaderElection: true, ...co });
      controllers.push(c);
      await c.start();
      return c;
    },
    async stop() {
      await Promise.all(controllers.map((c) => c.stop()));
      // The cluster a test put in place of the first one, if any.
      await env.cluster.stop();
    },
  };
  return env;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
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
