// The hand-off protocol between controller and node agent, in one place: what the Node's
// nodetracing.dev/* annotations mean (decode), and the only shapes either side writes (a release,
// an agent report, clearing ours). As system-upgrade-controller's condition helper owns the
// wire shape of a condition, nothing else reads or writes these keys by hand; annotations.ts
// only names them.
//
// The controller writes a release for the nodes the planner let go; the agent writes its reports
// for its own node. A report names the desired hash it is about (state-hash), so a report for an
// older release is never taken for one about the current release.
import {
  A_APPLIED_HASH, A_DESIRED_CONFIG, A_DESIRED_HASH, A_DESIRED_TIME, A_MESSAGE, A_POLICY, A_REPAIR, A_STATE, A_STATE_HASH,
  A_STATE_TIME, A_TRACEPARENT, AGENT_STATES, ANNOTATION_PREFIX, type AgentState, REMOVED_HASH,
} from './annotations.js';

/** A merge patch of metadata.annotations: null deletes the key. */
export type HandOffPatch = Record<string, string | null>;

/** How an apply ended: the states an agent reports once it is done with a hash. */
export type ApplyOutcome = Extract<AgentState, 'Applied' | 'RolledBack' | 'Failed'>;

/** The agent is done with its state-hash: an apply's outcome, or Drifted (reported after
 *  Applied, while the kubelet keeps running). Only Applying means work under way. */
export const TERMINAL_STATES: ReadonlySet<AgentState> = new Set<AgentState>(['Applied', 'RolledBack', 'Failed', 'Drifted']);

export function isTerminal(state: AgentState | undefined): boolean {
  return state !== undefined && TERMINAL_STATES.has(state);
}

/** A Node's hand-off, decoded. Strings are as written; times parsed (undefined when absent or
 *  not a time); a state the protocol does not know is left out. */
export interface HandOff {
  /** The owning policy (controller). */
  policy?: string;
  /** What the controller released: a render hash, or REMOVED_HASH. */
  desiredHash?: string;
  /** The released drop-in as JSON; '' to remove ours. */
  desiredConfig?: string;
  /** When the controller released it, as written. */
  desiredTime?: string;
  desiredTimeMs?: number;
  traceparent?: string;
  /** A repair release: the state-time of the report it answers (compared as written). */
  repair?: string;
  repairOfMs?: number;
  /** The agent's report (agent). */
  state?: AgentState;
  /** The desired hash the report is about. */
  stateHash?: string;
  /** The hash the agent last applied successfully. */
  appliedHash?: string;
  /** Why it failed or rolled back, what drifted; '' counts as none. */
  message?: string;
  /** When the agent reported, as written: a repair names it. */
  stateTime?: string;
  stateTimeMs?: number;
}

function time(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/** Reads the protocol off a Node's annotations (all of them, or only ours). */
export function decode(annotations: Readonly<Record<string, string>> | undefined): HandOff {
  const a = annotations ?? {};
  const h: HandOff = {};
  const set = <K extends keyof HandOff>(k: K, v: HandOff[K] | undefined): void => {
    if (v !== undefined) h[k] = v;
  };
  set('policy', a[A_POLICY]);
  set('desiredHash', a[A_DESIRED_HASH]);
  set('desiredConfig', a[A_DESIRED_CONFIG]);
  set('desiredTime', a[A_DESIRED_TIME]);
  set('desiredTimeMs', time(a[A_DESIRED_TIME]));
  set('traceparent', a[A_TRACEPARENT]);
  set('repair', a[A_REPAIR]);
  set('repairOfMs', time(a[A_REPAIR]));
  set('state', AGENT_STATES.find((s) => s === a[A_STATE]));
  set('stateHash', a[A_STATE_HASH]);
  set('appliedHash', a[A_APPLIED_HASH]);
  set('message', a[A_MESSAGE] || undefined);
  set('stateTime', a[A_STATE_TIME]);
  set('stateTimeMs', time(a[A_STATE_TIME]));
  return h;
}

/** The policy that owns the node (read often, by every ownership check: no full decode). */
export function policyOf(annotations: Readonly<Record<string, string>> | undefined): string | undefined {
  return annotations?.[A_POLICY];
}

/** What the controller hands a node. */
export interface Release {
  /** Absent for a node no policy owns (its stray drop-in comes off). */
  policy?: string;
  hash: string;
  /** The rendered drop-in; null removes ours. */
  config: object | null;
  timeMs: number;
  traceparent?: string;
  /** A drift repair: the report's state-time, as written. */
  repairOf?: string;
}

export function encodeRelease(r: Release): HandOffPatch {
  return {
    ...(r.policy !== undefined ? { [A_POLICY]: r.policy } : {}),
    [A_DESIRED_CONFIG]: r.config ? JSON.stringify(r.config) : '',
    [A_DESIRED_HASH]: r.hash,
    [A_DESIRED_TIME]: new Date(r.timeMs).toISOString(),
    [A_TRACEPARENT]: r.traceparent ?? null,
    [A_REPAIR]: r.repairOf ?? null,
  };
}

/** What an agent says about its own node. */
export interface Report {
  state: AgentState;
  /** The desired hash this report is about. */
  hash: string;
  /** Set when the report confirms what is applied (Applied, Drifted). */
  appliedHash?: string;
  message?: string;
  timeMs: number;
}

/** Every report replaces the previous one whole: a message left over would describe another
 *  state. */
export function encodeReport(r: Report): HandOffPatch {
  return {
    [A_STATE]: r.state,
    [A_STATE_HASH]: r.hash,
    ...(r.appliedHash !== undefined ? { [A_APPLIED_HASH]: r.appliedHash } : {}),
    [A_MESSAGE]: r.message ?? null,
    [A_STATE_TIME]: new Date(r.timeMs).toISOString(),
  };
}

/** Removes every key of ours the node holds (a removal is through: nothing is left to hand off). */
export function clearHandOff(annotations: Readonly<Record<string, string>> | undefined): Record<string, null> {
  return Object.fromEntries(Object.keys(annotations ?? {}).filter((k) => k.startsWith(ANNOTATION_PREFIX)).map((k) => [k, null]));
}

/** The released config, checked: null removes ours; `missing`: a hash without its config (the
 *  agent waits for it). */
export type DesiredConfig =
  | { ok: true; config: Record<string, unknown> | null }
  | { ok: false; missing: boolean; message: string };

export function desiredConfig(h: HandOff): DesiredConfig {
  const raw = h.desiredConfig;
  if (h.desiredHash === REMOVED_HASH || raw === '') return { ok: true, config: null };
  if (raw === undefined) return { ok: false, missing: true, message: `desired hash ${h.desiredHash ?? ''} without a desired config` };
  let config: unknown;
  try {
    config = JSON.parse(raw);
  } catch (e: unknown) {
    return { ok: false, missing: false, message: `${A_DESIRED_CONFIG} is not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    return { ok: false, missing: false, message: `${A_DESIRED_CONFIG} is not a JSON object` };
  }
  return { ok: true, config: config as Record<string, unknown> };
}

/** The controller asked for this report to be repaired: the release names its state-time, and
 *  the report is about the released hash and did not fail. */
export function repairRequested(h: HandOff): boolean {
  const token = h.repair;
  return token !== undefined && token !== '' && token === h.stateTime && (h.state === 'Drifted' || h.state === 'Applied') && h.stateHash === h.desiredHash;
}
