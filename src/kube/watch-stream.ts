// One watch request, read as JSON lines: client-node's Watch (1.4) without node-fetch and readline.
// Same contract as k8s.Watch.watch, which the informer used before: `onEvent(type, object)` per
// line, `onDone` once (null when the server ends the watch, the error otherwise: an HTTP status
// other than 200 as an Error carrying `statusCode`, or what onEvent threw), and a handle whose
// abort() ends it.
// Why: profiles of the controller at 5,000 nodes and of the embedded cluster's 5,000 agents spent
// a quarter of their watch time in readline's line splitting (a regex run over every 8 KB Node)
// and node-fetch's body stream, and each open watch held node-fetch's objects.
// As client-node does: authentication and TLS from the KubeConfig on every call (tokens and exec
// credentials refresh), and a proxy's agent, made for each request, when the cluster has one.
// Unlike client-node, a direct connection outlives its watch: a watch the server ended leaves its
// connection to the next watch, as client-go's watches share their HTTP/2 connection. A watch
// holds its connection for as long as it lasts, with TCP keep-alive on it.
// Why: the embedded cluster's 5,000 agents, each re-watching its Node when its watch (5-10
// minutes) ends, made 11-17 new connections a second (a TLS handshake each on a real cluster).
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type * as k8s from '@kubernetes/client-node';
import { isProxyAgent, keepAliveAgent, tlsIdentityKey } from './pool.js';

/** How long a connection is kept after its watch ended, for the next watch to take: the informers
 *  watch again at once. Under the keep-alive timeout of Node's servers (5 s by default); a server
 *  that announces a shorter one (a Keep-Alive header) is believed. */
export const WATCH_IDLE_MS = 4_000;

/** Per KubeConfig, the agent of its watches' connections, for the TLS identity of the last watch:
 *  a rotated client certificate gets a new agent (the old one's watches run on, and their
 *  connections close when they end). */
const watchAgents = new WeakMap<k8s.KubeConfig, { key: string; agent: http.Agent }>();

function watchAgent(kc: k8s.KubeConfig, protocol: string, o: https.RequestOptions): http.Agent {
  const key = tlsIdentityKey(protocol, o);
  const had = watchAgents.get(kc);
  if (had?.key === key) return had.agent;
  // No limit on connections (each watch holds one); `timeout` closes one that no watch took.
  const agent = keepAliveAgent(protocol === 'https:', o, { timeout: WATCH_IDLE_MS });
  watchAgents.set(kc, { key, agent });
  return agent;
}

export type WatchParams = Record<string, string | number | boolean | undefined>;

/** The error a watch ends with when the caller aborted it (node-fetch's name for it). */
function aborted(): Error {
  return Object.assign(new Error('The operation was aborted.'), { name: 'AbortError', type: 'aborted' });
}

export async function watchStream(
  kc: k8s.KubeConfig,
  path: string,
  params: WatchParams,
  onEvent: (type: string, obj: unknown, raw: unknown) => void,
  onDone: (err: unknown) => void,
): Promise<{ abort(): void }> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('No currently active cluster');
  const url = new URL(cluster.server + path);
  url.searchParams.set('watch', 'true');
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, String(v));

  let done = false;
  let req: http.ClientRequest | undefined = undefined;
  /** `ended`: the server ended the response, and Node has handed its connection back to the agent
   *  (Node 20 and 24 also make the destroy below a no-op then: the request is done). */
  const finish = (err: unknown, ended = false): void => {
    if (done) return;
    done = true;
    if (!ended) req?.destroy();
    onDone(err);
  };
  // The error only for an abort that ends the watch (an Error captures a stack: the informer aborts
  // every watch that already ended too).
  const handle = { abort: () => void (done || finish(aborted())) };
  const opts: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
  try {
    await kc.applyToHTTPSOptions(opts);
  } catch (e: unknown) {
    finish(e);
    return handle;
  }
  // The KubeConfig made an agent for this request: a proxy's is used as made.
  if (!isProxyAgent(opts.agent)) opts.agent = watchAgent(kc, url.protocol, opts);
  // The module objects, looked up now (not an ESM namespace): so a test or bench that wraps
  // http(s).request sees watches too, as it saw node-fetch's.
  req = (url.protocol === 'https:' ? https : http).request(url, opts, (res) => {
    if (res.statusCode !== 200) {
      res.resume();
      const code = res.statusCode ?? 500;
      finish(Object.assign(new Error(res.statusMessage || http.STATUS_CODES[code] || 'Internal Server Error'), { statusCode: code }));
      return;
    }
    res.setEncoding('utf8');
    // Only the new chunk is searched for line ends: a long object arriving in many chunks is not
    // scanned again for each.
    let rest = '';
    res.on('data', (chunk: string) => {
      let start = 0;
      for (let nl = chunk.indexOf('\n'); nl >= 0 && !done; nl = chunk.indexOf('\n', start)) {
        const line = rest + chunk.slice(start, nl);
        rest = '';
        start = nl + 1;
        let data: { type?: unknown; object?: unknown };
        try {
          data = JSON.parse(line) as { type?: unknown; object?: unknown };
        } catch {
          continue; // as client-node: a line that is not JSON is skipped
        }
        try {
          onEvent(String(data.type), data.object, data);
        } catch (e: unknown) {
          // A handler that throws ends the watch with its error (client-node dropped it silently).
          finish(e);
        }
      }
      rest += chunk.slice(start);
    });
    res.on('end', () => finish(null, true));
    res.on('close', () => finish(null));
    res.on('error', finish);
  });
  // A proxy agent may hand over a stream that is not a TCP socket. The idle timer of a kept
  // connection is off while a watch holds it: a quiet watch is the informer's watchdog's to judge.
  req.on('socket', (s: Partial<Pick<Socket, 'setKeepAlive' | 'setTimeout'>>) => {
    s.setKeepAlive?.(true, 30_000);
    s.setTimeout?.(0);
  });
  req.on('error', finish);
  req.end();
  return handle;
}
