// A client's KubeConfig for the embedded cluster's admin. Apart from cluster.ts: the cluster
// itself needs client-node only for agents in its own thread (see there).
import * as k8s from '@kubernetes/client-node';
import type { ApiServer } from './apiserver/index.js';

export function adminKubeConfig(server: ApiServer): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(server.kubeconfigYaml());
  return kc;
}
