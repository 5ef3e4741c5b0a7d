// JSON merge patches over reused connections, for the controller's hot write (one hand-off per
// node). client-node 1.4's generated clients build a new agent, so a new connection (a TLS
// handshake on a real cluster), for every request, and turn every response into a typed model;
// for 5,000 node hand-offs that was a third of the controller's CPU. Authentication and TLS
// settings still come from the KubeConfig on every call (tokens and exec credentials refresh).
import * as http from 'node:http';
import * as https from 'node:https';
import * as k8s from '@kubernetes/client-node';
import { isProxyAgent, keepAliveAgent, PooledKubeConfig, tlsIdentityKey } from './pool.js';

/** Connections kept for patches. A wave of hand-offs (500 at 5,000 nodes) queues on them, as
 *  client-go's requests share its one HTTP/2 connection. Each new connection is a TLS handshake
 *  for the API server too, and with 64 the first wave of a 5,000-node rollout opened 64 at once.
 *  At 16 the bench's 2 s rollout took 1.075-1.09x its ideal, against 1.08-1.12x at 64 (closing
 *  note of issue 14); 8 and 4 were no better. */
const MAX_SOCKETS = 16;

/** How long a write may go unanswered before it fails. A real API server answers every request
 *  within its request timeout (kube-apiserver --request-timeout, 60 s by default; 504 after it),
 *  so only a request lost on the way (a half-open connection, a black-holed network) waits this
 *  long: without a deadline it would wait for ever, and what waits for it with it (a policy's
 *  later status writes, a node's slot). */
export const REQUEST_DEADLINE_MS = 70_000;

/** A request that got no answer within its deadline. Whether the server applied it is unknown. */
export class NoAnswerError extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: no answer within ${ms / 1000} s (the connection is closed; the write may or may not have been applied)`);
    this.name = 'NoAnswerError';
  }
}

export class MergePatcher {
  private agent: http.Agent | undefined;
  private agentKey = '';

  constructor(
    private readonly kc: k8s.KubeConfig,
    /** A request silent this long fails with NoAnswerError. */
    private readonly deadlineMs = REQUEST_DEADLINE_MS,
  ) {}

  /** PATCH path with a JSON merge patch; throws ApiException. The response body is read only on
   *  failure: callers of the hot path do not need the object back. */
  async patch(path: string, body: unknown): Promise<void> {
    await this.send(path, body, false);
  }

  /** The same, resolving to the object the server returned, as JSON (not client-node's typed
   *  model: the node agent reads a few of its fields). */
  async patchObject<T>(path: string, body: unknown): Promise<T> {
    return JSON.parse(await this.send(path, body, true)) as T;
  }

  private async send(path: string, body: unknown, wantBody: boolean): Promise<string> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/+$/, '') + path);
    const opts: https.RequestOptions = {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/merge-patch+json', Accept: 'application/json' },
    };
    await this.kc.applyToHTTPSOptions(opts);
    // A proxy's agent (the cluster's proxy-url) is used as the KubeConfig made it, one per request
    // as client-node does; only a direct connection is kept and reused.
    if (!isProxyAgent(opts.agent)) opts.agent = this.agentFor(url.protocol, opts);
    const payload = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = (url.protocol === 'https:' ? https : http).request(url, opts, (res) => {
        const chunks: Buffer[] = [];
        const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
        res.on('data', (c: Buffer) => {
          if (!ok || wantBody) chunks.push(c);
        });
        res.on('error', reject);
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          if (code >= 200 && code < 300) {
            resolve(text);
            return;
          }
          const headers = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
          reject(new k8s.ApiException(code, `HTTP-Code: ${code}\nMessage: PATCH ${path}\nBody: ${text}`, text, headers));
        });
      });
      req.on('error', reject);
      // Silence, not the whole exchange: the socket's timer, reset by every byte, which a kept
      // connection has anyway (no timer of its own per request, on the hand-offs' hot path).
      req.setTimeout(this.deadlineMs, () => req.destroy(new NoAnswerError(`PATCH ${path}`, this.deadlineMs)));
      req.end(payload);
    });
  }

  /** One keep-alive agent per TLS identity: a rotated client certificate gets a new one. */
  private agentFor(protocol: string, o: https.RequestOptions): http.Agent {
    // A config that pools its connections (the embedded cluster's agents share one) lends its pool.
    if (this.kc instanceof PooledKubeConfig) return this.kc.poolFor(protocol === 'https:', o);
    const key = tlsIdentityKey(protocol, o);
    if (this.agent && key === this.agentKey) return this.agent;
    this.agent?.destroy();
    this.agent = keepAliveAgent(protocol === 'https:', o, { maxSockets: MAX_SOCKETS });
    this.agentKey = key;
    return this.agent;
  }

  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }
}
