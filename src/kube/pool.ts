// A KubeConfig whose API clients reuse keep-alive connections. client-node 1.4 builds a new
// agent, so a new TCP connection (and TLS handshake), for every request. That is fine for one
// process talking to one server now and then; it is not for the embedded cluster, where thousands
// of node agents in one process share one config and list and patch at once (their connects
// overflowed the server's accept queue and stalled in SYN retries).
//  - The requests of the generated API clients go over one pool, at most MAX_SOCKETS
//    connections at a time, queueing beyond that.
//  - An idle pooled connection is closed by the client after IDLE_MS, before the server's
//    keep-alive timeout (30 s here) can close it under a request that reuses it (ECONNRESET).
//  - Watches keep a connection of their own (watch-stream.ts, through applyToHTTPSOptions): a
//    watch holds it for as long as it lasts.
//  - MergePatcher's patches (the agents' reports) borrow the pool (poolFor).
// One pool per TLS identity, so rotated client credentials get fresh connections.
import * as http from 'node:http';
import * as https from 'node:https';
import * as k8s from '@kubernetes/client-node';

const MAX_SOCKETS = 128;
const IDLE_MS = 10_000;

export type TlsOptions = Pick<https.AgentOptions, 'ca' | 'cert' | 'key' | 'pfx' | 'passphrase' | 'rejectUnauthorized' | 'servername'>;

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
    const id: TlsOptions = { ca: o.ca, cert: o.cert, key: o.key, pfx: o.pfx, passphrase: o.passphrase, rejectUnauthorized: o.rejectUnauthorized, servername: o.servername };
    const key = tls ? `https ${JSON.stringify(id)}` : 'http';
    let agent = this.pools.get(key);
    if (!agent) {
      // `timeout` closes a pooled connection idle that long (requests here are short).
      const common = { keepAlive: true, maxSockets: MAX_SOCKETS, timeout: IDLE_MS };
      agent = tls ? new https.Agent({ ...common, ...id }) : new http.Agent(common);
      this.pools.set(key, agent);
    }
    return agent;
  }
}
