// A KubeConfig whose API clients reuse keep-alive connections. client-node 1.4 builds a new
// agent, so a new TCP connection (and TLS handshake), for every request. That is fine for one
// process talking to one server now and then; it is not for the embedded cluster, where thousands
// of node agents in one process share one config and list and patch at once (their connects
// overflowed the server's accept queue and stalled in SYN retries).
//  - The requests of the generated API clients go over one pool, at most MAX_SOCKETS
//    connections at a time, queueing beyond that.
//  - An idle pooled connection is closed by the client after IDLE_MS, before the server's
//    keep-alive timeout (30 s here) can close it under a request that reuses it (ECONNRESET).
//  - Watches do not take from the pool (a watch holds its connection for as long as it lasts):
//    they have an agent of their own (watch-stream.ts), whose connections go from a watch that
//    ended to the next.
//  - MergePatcher's patches (the agents' reports) borrow the pool (poolFor).
// One pool per TLS identity, so rotated client credentials get fresh connections.
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import * as k8s from '@kubernetes/client-node';

const MAX_SOCKETS = 128;
const IDLE_MS = 10_000;

export type TlsOptions = Pick<https.AgentOptions, 'ca' | 'cert' | 'key' | 'pfx' | 'passphrase' | 'rejectUnauthorized' | 'servername'>;

/** A key for one TLS identity (`protocol` 'http:' or 'https:'): connections kept for one are
 *  never lent to another, so rotated client credentials get fresh connections. Plain http has
 *  none: one key. */
export function tlsIdentityKey(protocol: string, o: TlsOptions): string {
  if (protocol !== 'https:') return 'http:';
  return createHash('sha256')
    .update(JSON.stringify([protocol, material(o.ca), material(o.cert), material(o.key), material(o.pfx), o.rejectUnauthorized, o.servername]))
    .digest('hex');
}

/** TLS material as text for a key: PEM strings and buffers as they are, lists item by item,
 *  `{ pem, passphrase }` entries as JSON. */
function material(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (Array.isArray(v)) return v.map(material).join('\n');
  return JSON.stringify(v);
}

/** A keep-alive agent for one TLS identity (`tls` false: plain http), with `extra`'s limits. */
export function keepAliveAgent(tls: boolean, o: TlsOptions, extra: http.AgentOptions): http.Agent {
  const common = { ...extra, keepAlive: true };
  return tls
    ? new https.Agent({ ...common, ca: o.ca, cert: o.cert, key: o.key, pfx: o.pfx, passphrase: o.passphrase, rejectUnauthorized: o.rejectUnauthorized, servername: o.servername })
    : new http.Agent(common);
}

/** Whether the KubeConfig made a proxy's agent (anything but node's own http(s).Agent): it is
 *  used as made, never pooled. */
export function isProxyAgent(agent: unknown): boolean {
  return typeof agent === 'object' && agent !== null && agent.constructor !== http.Agent && agent.constructor !== https.Agent;
}

export class PooledKubeConfig extends k8s.KubeConfig {
  private readonly pools = new Map<string, http.Agent>();

  override async applySecurityAuthentication(context: k8s.RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const agent = this.pooled(context.getAgent());
    if (agent) context.setAgent(agent);
  }

  /** Closes every pooled connection. */
  closePools(): void {
    for (const a of this.pools.values()) a.destroy();
    this.pools.clear();
  }

  /** The keep-alive agent for the one client-node just made, or undefined to keep its own (a
   *  proxy agent, or no agent at all). */
  private pooled(made: unknown): http.Agent | undefined {
    if (!(made instanceof http.Agent) || isProxyAgent(made)) return undefined;
    return this.poolFor(made instanceof https.Agent, (made as http.Agent & { options: TlsOptions }).options);
  }

  /** The pool for one TLS identity (`tls` false: plain http), made on first use. Also for
   *  requests made outside the generated clients (MergePatcher). */
  poolFor(tls: boolean, o: TlsOptions): http.Agent {
    const key = tlsIdentityKey(tls ? 'https:' : 'http:', o);
    let agent = this.pools.get(key);
    if (!agent) {
      // `timeout` closes a pooled connection idle that long (requests here are short).
      agent = keepAliveAgent(tls, o, { maxSockets: MAX_SOCKETS, timeout: IDLE_MS });
      this.pools.set(key, agent);
    }
    return agent;
  }
}
