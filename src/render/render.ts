// render: pure. NodeTracingPolicy spec + a node's kubelet version -> the drop-in
// KubeletConfiguration we hand to that node's agent, or why that kubelet can't take it.
// The version rules (DESIGN.md, from component-base, the kubelet and KEP-2831):
//   KubeletTracing gate: alpha 1.25-1.26 (default off), beta 1.27 (default on), GA and locked
//   on at 1.34, treated as removed from 1.37 (an unknown gate stops the kubelet).
//   | kubelet    | Auto          | Always        | Never         |
//   | < 1.25     | Unsupported   | Unsupported   | Unsupported   |
//   | 1.25-1.26  | gate: true    | gate: true    | Unsupported   |
//   | 1.27-1.33  | no gate       | gate: true    | no gate       |
//   | >= 1.34    | no gate       | no gate       | no gate       |
// Why Always stops at 1.33 (docs/upgrades.md): the version-skew policy lets a kubelet go from
// 1.X-3 straight to 1.X, and a kubelet upgrade restarts it on the files we left. A gate written
// to a 1.34-1.36 kubelet (where it is locked on: writing it changes nothing) would stop a 1.37
// kubelet from starting; a gate written to 1.33 at most meets 1.36, which accepts it.
import type { FeatureGateMode, NodeTracingPolicySpec } from '../api/types.js';
import { contentHash } from './hash.js';
import { atLeast, formatMinor, parseKubeletVersion } from './version.js';

export const KUBELET_CONFIG_API_VERSION = 'kubelet.config.k8s.io/v1beta1';
export const KUBELET_CONFIG_KIND = 'KubeletConfiguration';
export const GATE = 'KubeletTracing';

export interface KubeletTracingDropin {
  apiVersion: typeof KUBELET_CONFIG_API_VERSION;
  kind: typeof KUBELET_CONFIG_KIND;
  featureGates?: { [GATE]: true };
  tracing: { endpoint?: string; samplingRatePerMillion: number };
}

export type RenderResult =
  | { supported: true; config: KubeletTracingDropin; hash: string; gate: boolean }
  | { supported: false; reason: string };

/** Minors from which the gate is default-on, locked, and gone. */
const GATE_ALPHA = 25;
const GATE_BETA = 27;
export const GATE_LOCKED = 34;
export const GATE_REMOVED = 37;
/** How many minors a kubelet may skip in one upgrade (it may be 3 behind the API server). */
export const KUBELET_UPGRADE_SKEW = 3;

function gateNeeded(mode: FeatureGateMode, minor: (m: number) => boolean): boolean | 'unsupported' {
  const alpha = !minor(GATE_BETA);
  if (mode === 'Never') return alpha ? 'unsupported' : false;
  if (mode === 'Always') return !minor(GATE_LOCKED);
  return alpha; // Auto
}

export function render(spec: NodeTracingPolicySpec, kubeletVersion: string): RenderResult {
  const v = parseKubeletVersion(kubeletVersion);
  if (!v) return { supported: false, reason: `cannot parse kubelet version ${JSON.stringify(kubeletVersion)}` };
  if (v.major !== 1) return { supported: false, reason: `kubelet ${v.raw}: only 1.x kubelets are known` };
  if (!atLeast(v, GATE_ALPHA)) {
    return { supported: false, reason: `kubelet ${formatMinor(v)} has no tracing (needs >= v1.25)` };
  }
  const mode = spec.featureGate ?? 'Auto';
  const gate = gateNeeded(mode, (m) => atLeast(v, m));
  if (gate === 'unsupported') {
    return {
      supported: false,
      reason: `kubelet ${formatMinor(v)} needs the KubeletTracing feature gate, and featureGate is Never`,
    };
  }
  const tracing: KubeletTracingDropin['tracing'] = {
    samplingRatePerMillion: spec.tracing.samplingRatePerMillion ?? 0,
  };
  if (spec.tracing.endpoint !== undefined) tracing.endpoint = spec.tracing.endpoint;
  const config: KubeletTracingDropin = {
    apiVersion: KUBELET_CONFIG_API_VERSION,
    kind: KUBELET_CONFIG_KIND,
    ...(gate ? { featureGates: { [GATE]: true as const } } : {}),
    tracing,
  };
  return { supported: true, config, hash: contentHash(config), gate };
}

const intents = new WeakMap<NodeTracingPolicySpec, string>();

/** Hash of the policy's intent (what status.configHash reports): independent of node versions.
 *  Kept per spec object (a cached policy's, never changed in place): every reconcile asks. */
export function intentHash(spec: NodeTracingPolicySpec): string {
  let h = intents.get(spec);
  if (h === undefined) {
    h = contentHash({ tracing: spec.tracing, featureGate: spec.featureGate ?? 'Auto' });
    intents.set(spec, h);
  }
  return h;
}
