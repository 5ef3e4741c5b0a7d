// What a person (or a test) does to a simulated node behind the operator's back: upgrade its
// kubelet, restart it. Its files are plain files under the host directory `kto sim` prints, edited
// with any tool. The simulated kubelet also answers these through the API server's node proxy,
// next to /configz, so a `kto sim` user needs nothing but kubectl:
//   kubectl create --raw /api/v1/nodes/node-03/proxy/sim/upgrade -f - <<< '{"version": "v1.27.16"}'
//   kubectl create --raw /api/v1/nodes/node-03/proxy/sim/restart -f - <<< '{}'
// (a real kubelet has no such endpoint: its upgrade is a package install and `systemctl restart`).
import type { Store } from './apiserver/store-api.js';
import { NODES } from './apiserver/types.js';
import type { SimKubelet } from './kubelet/index.js';
import { parseKubeletVersion } from '../render/version.js';

type Reply = { status: number; body: string; contentType?: string };

const json = (status: number, v: unknown): Reply => ({ status, body: JSON.stringify(v), contentType: 'application/json' });

/** Errors as a metav1.Status, so kubectl prints their message. */
const REASONS: Record<number, string> = { 400: 'BadRequest', 405: 'MethodNotAllowed', 409: 'Conflict' };
const failure = (code: number, message: string): Reply => json(code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: REASONS[code] ?? 'InternalError', code });

/** A kubelet that started reports its version in its Node's status, as the real one does at
 *  each start (one that fails to start on its config never does: its Node keeps the old one). */
export function reportKubeletVersion(store: Store, name: string, version: string): void {
  const node = store.tryGet<{ status?: { nodeInfo?: { kubeletVersion?: string } } }>(NODES, name);
  if (!node || node.status?.nodeInfo?.kubeletVersion === version) return;
  store.patchEntry(NODES, name, 'strategic', { status: { nodeInfo: { kubeletVersion: version, kubeProxyVersion: version } } }, { subresource: 'status', lazyText: true });
}

/** The simulated kubelet's own control endpoints under /sim/ (POST, JSON body). */
export async function simControl(kubelet: SimKubelet, path: string, method: string | undefined, body: string): Promise<Reply> {
  const what = path.replace(/^\/sim\//, '').replace(/\?.*$/, '');
  if (what !== 'upgrade' && what !== 'restart') return { status: 404, body: '404 page not found\n', contentType: 'text/plain' };
  if (method !== undefined && method !== 'POST') return failure(405, `${method} /sim/${what}: use POST (kubectl create --raw ... -f -)`);
  if (what === 'restart') {
    await kubelet.restart();
    return json(200, { node: kubelet.nodeName, restarted: true, version: kubelet.version });
  }
  let version: unknown;
  try {
    version = (JSON.parse(body === '' ? '{}' : body) as { version?: unknown }).version;
  } catch {
    return failure(400, 'body: not JSON; want {"version": "v1.27.16"}');
  }
  if (typeof version !== 'string' || !parseKubeletVersion(version)) return failure(400, `version: ${JSON.stringify(version)} is not a kubelet version (e.g. "v1.27.16")`);
  const from = kubelet.version;
  try {
    await kubelet.upgrade(version);
  } catch (e: unknown) {
    return failure(409, e instanceof Error ? e.message : String(e));
  }
  return json(200, { node: kubelet.nodeName, from, to: version, note: 'the kubelet restarts as the new version; its Node reports it once it is up' });
}
