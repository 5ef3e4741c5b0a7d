// verify: Configz. After the agent reports Applied, read the kubelet's effective config through
// the API server's node proxy and compare it with the render: proof of effect, not of intent.
// Then read it again now and then (recheckMs, a bounded number per reconcile): a kubelet that
// restarted on another config (its unit's flags changed, its files changed and changed back) is
// drift. The controller does this, not the agent: reading /configz needs get on nodes/proxy,
// which the chart grants the controller only with verify: Configz, and the agent never.
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

export interface ConfigzVerifierOptions {
  /** How often an agreeing /configz is read again. Default 5 min. */
  recheckMs?: number;
  /** Most re-reads in one reconcile (the rest wait for the next). Default 100. */
  recheckBatch?: number;
}

interface Result {
  policy: string;
  hash: string;
  /** The agent report (its state-time) this verdict is about. */
  stateTimeMs: number | undefined;
  verdict: Verdict;
  checkedAt: number;
  /** /configz agreed with this report once: a later disagreement is drift, not a failed apply. */
  agreed: boolean;
}

export class ConfigzVerifier {
  private readonly core: k8s.CoreV1Api;
  /** node -> the verdict on its last Applied report */
  private readonly results = new Map<string, Result>();
  private readonly recheckMs: number;
  private readonly recheckBatch: number;

  constructor(kc: k8s.KubeConfig, private readonly log: Logger = silentLogger, o: ConfigzVerifierOptions = {}) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.recheckMs = o.recheckMs ?? 5 * 60_000;
    this.recheckBatch = o.recheckBatch ?? 100;
  }

  /** Drops every verdict (the kubelets behind them may be other ones now). */
  forget(): void {
    this.results.clear();
  }

  /** Returns the plan nodes with verification folded in: an Applied node not yet proven stays
   *  in progress; one whose configz disagrees is Failed; one whose configz agreed and disagrees
   *  now has drifted (configzDrift). */
  async check(policy: NodeTracingPolicy, nodes: PlanNode[], targets: Target[], now = Date.now()): Promise<PlanNode[]> {
    if (resolveRollout(policy.spec).verify !== 'Configz') return nodes;
    const name = policy.metadata.name ?? '';
    const want = new Map(targets.map((t) => [t.node.name, t.config]));
    let rechecks = this.recheckBatch;
    const claiming = new Set<string>();
    const out = await Promise.all(
      nodes.map(async (n) => {
        const claimsApplied = n.state === 'Applied' && n.stateHash === n.targetHash && n.appliedHash === n.targetHash;
        if (!claimsApplied || n.targetHash === REMOVED_HASH) return n;
        claiming.add(n.name);
        let r = this.results.get(n.name);
        if (!n.ready) {
          // A kubelet that is down has no config to show: look again one period later.
          if (r && now - r.checkedAt >= this.recheckMs) r.checkedAt = now;
          return n;
        }
        if (!r || r.hash !== n.targetHash || r.stateTimeMs !== n.stateTimeMs) {
          const verdict = await this.read(n.name, want.get(n.name) ?? null);
          if (!verdict) return { ...n, state: 'Applying' as const };
          r = { policy: name, hash: n.targetHash, stateTimeMs: n.stateTimeMs, verdict, checkedAt: now, agreed: verdict.ok };
          this.results.set(n.name, r);
        } else if (r.agreed && now - r.checkedAt >= this.recheckMs && rechecks-- > 0) {
          const result = r;
          result.checkedAt = now;
          // Unreadable now (the kubelet restarting): the last verdict stands until the next read.
          const verdict = await this.read(n.name, want.get(n.name) ?? null);
          if (verdict) result.verdict = verdict;
        }
        if (r.verdict.ok) return n;
        if (r.agreed) return { ...n, configzDrift: `/configz ${r.verdict.message.replace(/^configz /, '')} (the kubelet restarted with another config)` };
        return { ...n, state: 'Failed' as const, message: r.verdict.message };
      }),
    );
    // Verdicts on reports that are gone (a new apply under way, the node no longer ours): no
    // re-read falls due for them.
    for (const [node, r] of this.results) if (r.policy === name && !claiming.has(node)) this.results.delete(node);
    return out;
  }

  /** When the next re-read of one of this policy's nodes falls due, from now (undefined: none). */
  nextRecheckMs(policy: NodeTracingPolicy, now: number): number | undefined {
    if (resolveRollout(policy.spec).verify !== 'Configz') return undefined;
    const name = policy.metadata.name ?? '';
    let next: number | undefined;
    for (const r of this.results.values()) {
      if (r.policy !== name || !r.agreed) continue;
      const due = r.checkedAt + this.recheckMs;
      if (next === undefined || due < next) next = due;
    }
    return next === undefined ? undefined : Math.max(0, next - now);
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
