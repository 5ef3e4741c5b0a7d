import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';

/** Where a pod's service account token is mounted (in-cluster config). */
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface KubeConfigSources {
  env?: NodeJS.ProcessEnv;
  home?: string;
  /** Whether the in-cluster service account token is there. */
  inCluster?: () => boolean;
}

/**
 * The kubeconfig file given, else $KUBECONFIG (files joined by the path delimiter), else
 * ~/.kube/config, else the in-cluster config: the order kubectl and client-node use. Unlike
 * client-node, which falls back to http://localhost:8080 when it finds nothing (every request
 * then fails with "HTTP protocol is not allowed..."), this throws an error saying what is
 * missing, and one naming the file when a file is empty or not a kubeconfig.
 */
export function loadKubeConfig(path?: string, src: KubeConfigSources = {}): k8s.KubeConfig {
  const env = src.env ?? process.env;
  const files = path ? [path] : (env['KUBECONFIG'] ?? '').split(delimiter).filter((f) => f !== '');
  const home = src.home ?? homedir();
  if (files.length === 0 && home !== '' && existsSync(join(home, '.kube', 'config'))) files.push(join(home, '.kube', 'config'));
  if (files.length === 0) {
    const inCluster = src.inCluster ?? (() => existsSync(SERVICE_ACCOUNT_TOKEN) && Boolean(env['KUBERNETES_SERVICE_HOST']));
    if (!inCluster()) {
      throw new Error('no kubeconfig found: pass --kubeconfig FILE, set $KUBECONFIG, create ~/.kube/config, or run in a pod (in-cluster config)');
    }
    const kc = new k8s.KubeConfig();
    kc.loadFromCluster();
    return kc;
  }
  const [first, ...rest] = files.map(loadFile);
  const kc = first ?? new k8s.KubeConfig();
  for (const more of rest) kc.mergeConfig(more);
  const context = kc.getCurrentContext();
  if (!context) throw new Error(`kubeconfig ${files.join(delimiter)}: no current-context is set`);
  if (!kc.getCurrentCluster()) throw new Error(`kubeconfig ${files.join(delimiter)}: current-context "${context}" names no cluster that the file defines`);
  return kc;
}

function loadFile(file: string): k8s.KubeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : '';
    throw new Error(`kubeconfig ${file}: ${code === 'ENOENT' ? 'no such file' : err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (text.trim() === '') throw new Error(`kubeconfig ${file}: the file is empty`);
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new Error(`kubeconfig ${file}: not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`, { cause: err });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`kubeconfig ${file}: not a kubeconfig (expected a YAML map with clusters, contexts and users)`);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

export const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
