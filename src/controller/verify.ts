// verify: Configz. After the agent reports Applied, read the kubelet's effective config through
// the API server's node proxy and compare it with the render: proof of effect, not of intent.
import * as k8s from '@kubernetes/client-node';
import { REMOVED_HASH } from '../api/annotations.js';
import { resolveRollout, type NodeTracingPolicy } from '../api/types.js';
import { type Logger, silentLogger } from '../log.js';
import { GATE } from '../render/render.js';
import type { PlanNode } from './planner.js';
import type { Target } from './reconcile.js';

type Verdict = { ok: true } | { ok: false; message: string };

export function compareConfigz(body: unknown, want: Target['config']): Verdict {
  const kc = (body as { kubeletconfig?: { tracing?: Record<string, unknown>; featureGates?: Record<string, unknown> } } | null)?.kubeletconfig;
  if (!kc) return { ok: false, message: 'configz has no kubeletconfig' };
  if (!want) return { ok: true };
  const got = kc.tracing ?? {};
  for (const [k, v] of Object.entries(want.tracing)) {
    if ((got[k] ?? (k === 'samplingRatePerMillion' ? 0 : undefined)) !== v) {
      return { ok: false, message: `configz tracing.${k} is ${JSON.stringify(got[k])}, want ${JSON.stringify(v)}` };
    }
  }
  if (want.featureGates && kc.featureGates?.[GATE] !== true) {
    return { ok: false, message: `configz featureGates.${GATE} is ${JSON.stringify(kc.featureGates?.[GATE])}, want true` };
  }
  return { ok: true };
}

export class ConfigzVerifier {
  private readonly core: k8s.CoreV1Api;
  /** node -> hash verified, or the failure for that hash */
  private readonly results = new Map<string, { hash: string; verdict: Verdict }>();

  constructor(kc: k8s.KubeConfig, private readonly log: Logger = silentLogger) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  /** Drops every verdict (the kubelets behind them may be other ones now). */
  forget(): void {
    this.results.clear();
  }

  /** Returns the plan nodes with verification folded in: an Applied node not yet proven stays
   *  in progress; one whose configz disagrees is Failed. */
  async check(policy: NodeTracingPolicy, nodes: PlanNode[], targets: Target[]): Promise<PlanNode[]> {
    if (resolveRollout(policy.spec).verify !== 'Configz') return nodes;
    const want = new Map(targets.map((t) => [t.node.name, t.config]));
    return Promise.all(
      nodes.map(async (n) => {
        const claimsApplied = n.state === 'Applied' && n.stateHash === n.targetHash && n.appliedHash === n.targetHash;
        if (!claimsApplied || n.targetHash === REMOVED_HASH || !n.ready) return n;
        let r = this.results.get(n.name);
        if (!r || r.hash !== n.targetHash) {
          const verdict = await this.read(n.name, want.get(n.name) ?? null);
          if (!verdict) return { ...n, state: 'Applying' as const };
          r = { hash: n.targetHash, verdict };
          this.results.set(n.name, r);
        }
        if (r.verdict.ok) return n;
        return { ...n, state: 'Failed' as const, message: r.verdict.message };
      }),
    );
  }

  /** undefined: could not read now (try again later). */
  private async read(node: string, want: Target['config']): Promise<Verdict | undefined> {
    try {
      const text = await this.core.connectGetNodeProxyWithPath({ name: node, path: 'configz' });
      const body: unknown = typeof text === 'string' ? JSON.parse(text) : text;
      const verdict = compareConfigz(body, want);
      if (!verdict.ok) this.log.warn({ node, reason: verdict.message }, 'configz disagrees with the render: the node fails');
      return verdict;
    } catch (err) {
      this.log.warn({ node, err }, 'configz read failed; trying again on the next reconcile');
      return undefined;
    }
  }
}
