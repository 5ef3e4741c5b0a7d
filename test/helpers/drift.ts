// Drift on the embedded cluster: the files of a simulated node, changed as a person or a config
// management run would, and what the node's hand-off says about it.
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { A_STATE, DROPIN_FILE } from '../../src/api/annotations.js';
import type { SimKubelet } from '../../src/sim/kubelet/index.js';
import type { Env } from './rollout.js';

/** The simulated kubelet of a node of the env (throws for a node it does not have). */
export function kubeletOf(env: Env, node: string): SimKubelet {
  const k = env.cluster.kubelets.get(node);
  if (!k) throw new Error(`no kubelet for node ${node}`);
  return k;
}

export function dropinOf(k: SimKubelet): string {
  if (k.dropinDir === undefined) throw new Error(`${k.nodeName} (${k.version}) has no drop-in dir`);
  return join(k.dropinDir, DROPIN_FILE);
}

/** Replaces a file as editors and config management do: a new file renamed over the old one. */
export async function replaceFile(path: string, content: string): Promise<void> {
  const tmp = `${path}.edit-${process.pid}`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}

/** Edits the file in place with a string replacement (must change something). */
export async function editFile(path: string, from: RegExp, to: string): Promise<void> {
  const text = await readFile(path, 'utf8');
  const next = text.replace(from, to);
  if (next === text) throw new Error(`${path}: ${String(from)} matched nothing`);
  await writeFile(path, next);
}

export const removeFile = (path: string): Promise<void> => rm(path, { force: true });

export async function annotations(env: Env, node: string): Promise<Record<string, string>> {
  return (await env.core.readNode({ name: node })).metadata?.annotations ?? {};
}

export async function stateOf(env: Env, node: string): Promise<string | undefined> {
  return (await annotations(env, node))[A_STATE];
}

/** Events of a reason, as a person reads them (kubectl get events). */
export async function events(env: Env, reason: string): Promise<k8s.CoreV1Event[]> {
  const list = await env.core.listEventForAllNamespaces();
  return list.items.filter((e) => e.reason === reason);
}
