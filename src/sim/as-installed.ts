// `kto sim --as-installed`: the embedded cluster as the chart leaves a real one. The chart's
// ServiceAccounts, RBAC and agent guard (chart-rbac.generated.ts, rendered from the chart) are
// installed before the nodes exist; every agent runs as the chart's agent ServiceAccount with a
// token bound to its own Node (what `kubectl create token --bound-object-kind Node` mints); and
// a kubeconfig of the controller's ServiceAccount lets `kto controller` run with exactly the
// rights the chart grants it.
import * as k8s from '@kubernetes/client-node';
import type { ApiServer } from './apiserver/index.js';
import { NAMESPACES, groupVersion } from './apiserver/types.js';
import { CHART_RBAC } from './chart-rbac.generated.js';
import type { SimClusterOptions } from './cluster.js';

export const AS_INSTALLED = {
  namespace: CHART_RBAC.namespace,
  controllerServiceAccount: CHART_RBAC.controllerServiceAccount,
  agentServiceAccount: CHART_RBAC.agentServiceAccount,
  leaseName: CHART_RBAC.leaseName,
};

/** A playground outlives the one hour a TokenRequest gets by default; a week is plenty. */
const TOKEN_SECONDS = 7 * 24 * 3600;

/** Creates (or, after a restart from a state dir, resets) the chart's namespace, identities, RBAC and guard. */
export function installChartRbac(server: ApiServer): void {
  const store = server.store;
  if (!store.tryGet(NAMESPACES, CHART_RBAC.namespace)) store.create(NAMESPACES, { metadata: { name: CHART_RBAC.namespace } });
  for (const o of CHART_RBAC.objects) {
    const def = store.registry.all().find((d) => groupVersion(d.group, d.version) === o.apiVersion && d.kind === o.kind);
    if (!def) throw new Error(`the embedded API server does not serve ${o.apiVersion} ${o.kind} (from the chart)`);
    const name = o.metadata.name ?? '';
    const namespace = def.namespaced ? o.metadata.namespace : undefined;
    const existing = store.tryGet(def, name, namespace);
    if (!existing) store.create(def, o, { namespace });
    else store.update(def, { ...o, metadata: { ...o.metadata, resourceVersion: existing.metadata.resourceVersion } }, { namespace });
  }
}

function kubeConfigFor(yaml: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(yaml);
  return kc;
}

/** The agent of `node`: the chart's agent ServiceAccount, with a token bound to that Node. */
export function agentKubeConfig(node: string, server: ApiServer): k8s.KubeConfig {
  const token = server.tokenFor(CHART_RBAC.namespace, CHART_RBAC.agentServiceAccount, { boundNode: node, expirationSeconds: TOKEN_SECONDS });
  return kubeConfigFor(server.kubeconfigYaml({ token, user: CHART_RBAC.agentServiceAccount }));
}

/** SimCluster options that install the chart's rights and run every agent under them. */
export function asInstalledClusterOptions(): Pick<SimClusterOptions, 'beforeNodes' | 'agentKubeConfig'> {
  return { beforeNodes: async (server) => installChartRbac(server), agentKubeConfig };
}

/** Writes a kubeconfig (https, for kubectl and `kto controller`) of the chart's controller ServiceAccount. */
export async function writeControllerKubeconfig(server: ApiServer, path: string): Promise<void> {
  const token = server.tokenFor(CHART_RBAC.namespace, CHART_RBAC.controllerServiceAccount, { expirationSeconds: TOKEN_SECONDS });
  await server.writeKubeconfig(path, { token, user: CHART_RBAC.controllerServiceAccount });
}
