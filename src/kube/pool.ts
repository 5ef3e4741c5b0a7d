// A KubeConfig whose clients reuse keep-alive connections. client-node 1.4 builds a new agent,
// so a new TCP connection (and TLS handshake), for every request and every watch. That is fine
// for one process talking to one server now and then; it is not for the embedded cluster, where
// thousands of node agents in one process list and watch at once.
//  - The requests of the generated API clients go over one pool of keep-alive connections, at
//    most MAX_SOCKETS at a time, queueing beyond that.
//  - With `watches: true` (a config used by one client, e.g. one node agent), watches take their
//    connection from the same pool: the socket that carried the list carries the watch next.
//    Not for a config shared by many watchers: client-node's Watch walks every socket of the
//    agent it is given, on each new watch.
// One pool per TLS identity, so rotated client credentials get fresh connections.
import * as http from 'node:http';
import * as https from 'node:https';
import * as k8s from '@kubernetes/client-node';

const MAX_SOCKETS = 64;

type TlsOptions = Pick<https.AgentOptions, 'ca' | 'cert' | 'key' | 'pfx' | 'passphrase' | 'rejectUnauthorized' | 'servername'>;

export class PooledKubeConfig extends k8s.KubeConfig {
  private readonly pools = new Map<string, http.Agent>();

  constructor(private readonly o: { watches?: boolean } = {}) {
    super();
  }

  /** A pooled copy of a loaded config (its own pool). */
  static from(kc: k8s.KubeConfig, o: { watches?: boolean } = {}): PooledKubeConfig {
    const p = new PooledKubeConfig(o);
    p.loadFromOptions({ clusters: kc.getClusters(), users: kc.getUsers(), contexts: kc.getContexts(), currentContext: kc.getCurrentContext() });
    return p;
  }

  override async applySecurityAuthentication(context: k8s.RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const agent = this.pooled(context.getAgent());
    if (agent) context.setAgent(agent);
  }

  override async applyToHTTPSOptions(opts: Parameters<k8s.KubeConfig['applyToHTTPSOptions']>[0]): Promise<void> {
    await super.applyToHTTPSOptions(opts);
    if (!this.o.watches) return;
    const o = opts as https.RequestOptions;
    const agent = this.pooled(o.agent);
    if (agent) o.agent = agent;
  }

  /** Closes every pooled connection. */
  closePools(): void {
    for (const a of this.pools.values()) a.destroy();
    this.pools.clear();
  }

  /** The keep-alive agent for the one client-node just made, or undefined to keep its own (a
   *  proxy agent, or no agent at all). */
  private pooled(made: unknown): http.Agent | undefined {
    const tls = made instanceof https.Agent;
    if (!tls && !(made instanceof http.Agent)) return undefined;
    if (made.constructor !== http.Agent && made.constructor !== https.Agent) return undefined; // proxy agents
    const o = (made as http.Agent & { options: TlsOptions }).options;
    const id: TlsOptions = { ca: o.ca, cert: o.cert, key: o.key, pfx: o.pfx, passphrase: o.passphrase, rejectUnauthorized: o.rejectUnauthorized, servername: o.servername };
    const key = tls ? `https ${JSON.stringify(id)}` : 'http';
    let agent = this.pools.get(key);
    if (!agent) {
      const common = { keepAlive: true, maxSockets: MAX_SOCKETS };
      agent = tls ? new https.Agent({ ...common, ...id }) : new http.Agent(common);
      this.pools.set(key, agent);
    }
    return agent;
  }
}
