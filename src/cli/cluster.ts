// Reading the cluster for kto status and kto plan: the policies and the Nodes (trimmed as the
// controller caches them). Reads only.
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type NodeTracingPolicy } from '../api/types.js';
import { trimNode, type CachedNode } from '../controller/nodes.js';

export interface ClusterState {
  policies: NodeTracingPolicy[];
  nodes: CachedNode[];
  /** The API server does not serve NodeTracingPolicy: the CRD is not installed. */
  noCrd: boolean;
}

export const NO_CRD = 'the cluster does not serve NodeTracingPolicy (nodetracing.dev/v1alpha1): install the CRD first (kto crd | kubectl apply -f -)';

export function policyList(kc: k8s.KubeConfig): () => Promise<{ items: NodeTracingPolicy[]; metadata?: { resourceVersion?: string } }> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  return async () => (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as { items: NodeTracingPolicy[] };
}

export const POLICIES_PATH = `/apis/${GROUP}/${VERSION}/${PLURAL}`;

export async function readCluster(kc: k8s.KubeConfig): Promise<ClusterState> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const [policies, nodes] = await Promise.all([
    policyList(kc)().then((l) => ({ items: l.items, noCrd: false }), (err: unknown) => {
      if (err instanceof k8s.ApiException && err.code === 404) return { items: [] as NodeTracingPolicy[], noCrd: true };
      throw err;
    }),
    core.listNode(),
  ]);
  return { policies: policies.items.map(plain), nodes: nodes.items.map(trimNode), noCrd: policies.noCrd };
}

/** Watch events carry raw JSON, lists client-node models: one plain shape for both. */
export function plain(p: NodeTracingPolicy): NodeTracingPolicy {
  return JSON.parse(JSON.stringify(p)) as NodeTracingPolicy;
}

/** What the API server said, in one line (its Status message when there is one). */
export function apiError(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    let message: string;
    try {
      message = (JSON.parse(String(err.body)) as { message?: string }).message ?? '';
    } catch {
      message = String(err.body ?? '');
    }
    return `the API server answered ${err.code}${message ? `: ${message}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}
