import * as k8s from '@kubernetes/client-node';

/** A kubeconfig file when given (or $KUBECONFIG), else in-cluster config, else ~/.kube/config. */
export function loadKubeConfig(path?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

export const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
