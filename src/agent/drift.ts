// Drift, the pure part: what this node should hold on disk given its hand-off annotations, what
// differs from that, and what the agent reports about it. The file watch and the periodic
// re-check that decide *when* to look are in drift-watch.ts.
//
// What the agent owns, and so checks:
//   drop-in mode: the bytes of its drop-in (absent once our configuration came off);
//   main mode: the managed keys of the main config (top-level fields, featureGates gate by gate).
//     Once our keys are given back there is nothing of ours left to check: the user's own
//     `tracing`, if any, is theirs.
// A node with no hand-off at all (the controller clears it once a removal is through) must not
// hold our drop-in either: one that reappears (a restored backup, config management, an image)
// is drift, reported as such so the controller takes it off again within the rollout rules.
import { isDeepStrictEqual } from 'node:util';
import { parse } from 'yaml';
import {
  A_APPLIED_HASH, A_DESIRED_CONFIG, A_DESIRED_HASH, A_MESSAGE, A_REPAIR, A_STATE, A_STATE_HASH, A_STATE_TIME, DROPIN_FILE,
  REMOVED_HASH,
} from '../api/annotations.js';
import { desiredPaths, type KubeletConfigObject, renderDropin } from './files.js';

export interface Expectation {
  /** The hash the agent applied (REMOVED_HASH: none of ours). */
  hash: string;
  /** What that hash put on disk; null: nothing of ours. */
  config: KubeletConfigObject | null;
}

type Annotations = Record<string, string> | undefined;

/** The hash this node's agent finished applying and still stands by, with its config; undefined
 *  while there is nothing to hold the files to (an apply pending or under way, or one that
 *  failed: a failed node is the rollout's to report, not drift). */
export function expectationOf(annotations: Annotations): Expectation | undefined {
  const a = annotations ?? {};
  const desired = a[A_DESIRED_HASH];
  const state = a[A_STATE];
  const stateHash = a[A_STATE_HASH];
  const settled = state === 'Applied' || state === 'Drifted';
  if (desired === undefined || desired === '') {
    // No hand-off: nothing of ours belongs here, whether the controller cleared its keys after
    // a removal or the node was never configured (or the agent itself reported a stray drop-in).
    if (state === undefined || (settled && stateHash === REMOVED_HASH)) return { hash: REMOVED_HASH, config: null };
    return undefined;
  }
  if (!settled || stateHash !== desired || a[A_APPLIED_HASH] !== desired) return undefined;
  if (desired === REMOVED_HASH || a[A_DESIRED_CONFIG] === '') return { hash: desired, config: null };
  try {
    const config: unknown = JSON.parse(a[A_DESIRED_CONFIG] ?? '');
    if (typeof config === 'object' && config !== null && !Array.isArray(config)) return { hash: desired, config: config as KubeletConfigObject };
  } catch {
    // The apply would have been rejected; nothing to hold the files to.
  }
  return undefined;
}

/** Dotted paths whose values differ between two parsed configs, as "tracing.x is 5, want 7". */
export function differences(got: unknown, want: unknown, path: string[] = [], out: string[] = []): string[] {
  const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isMap(got) && isMap(want)) {
    for (const k of new Set([...Object.keys(want), ...Object.keys(got)])) differences(got[k], want[k], [...path, k], out);
    return out;
  }
  if (isDeepStrictEqual(got, want)) return out;
  const at = path.join('.');
  if (want === undefined) out.push(`${at} is set (${JSON.stringify(got)}), want unset`);
  else if (got === undefined) out.push(`${at} is missing, want ${JSON.stringify(want)}`);
  else out.push(`${at} is ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  return out;
}

function listed(diffs: string[], max = 3): string {
  const shown = diffs.slice(0, max).join('; ');
  return diffs.length > max ? `${shown}; and ${diffs.length - max} more` : shown;
}

/** How our drop-in's bytes differ from what was applied; undefined: they do not. */
export function dropinDrift(current: string | null, want: Expectation): string | undefined {
  const wanted = want.config === null ? null : renderDropin(want.config);
  if (current === wanted) return undefined;
  if (current === null) return `${DROPIN_FILE} was deleted`;
  if (wanted === null) return `${DROPIN_FILE} is back after our configuration was removed from this node`;
  let got: unknown;
  try {
    got = parse(current);
  } catch (e: unknown) {
    return `${DROPIN_FILE} was changed and is no longer valid YAML (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`;
  }
  const diffs = differences(got, parse(wanted));
  return diffs.length > 0 ? `${DROPIN_FILE} was changed: ${listed(diffs)}` : `${DROPIN_FILE} was changed (same settings, other bytes)`;
}

/** How the managed keys of the main config differ from what was applied; undefined: they do not
 *  (or nothing of ours is there to check). */
export function mainDrift(text: string | null, want: Expectation, fileName: string): string | undefined {
  if (want.config === null) return undefined;
  if (text === null) return `${fileName} was deleted`;
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e: unknown) {
    return `${fileName} was changed and is no longer valid YAML (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`;
  }
  const root = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>) : {};
  const diffs: string[] = [];
  for (const { path, value } of desiredPaths(want.config)) {
    let got: unknown = root;
    for (const k of path) got = typeof got === 'object' && got !== null ? (got as Record<string, unknown>)[k] : undefined;
    differences(got, value, path, diffs);
  }
  return diffs.length > 0 ? `${fileName} no longer holds what was applied: ${listed(diffs)}` : undefined;
}

/** What the agent writes about drift, if anything. A drift found shortly after the controller
 *  repaired it again means something else keeps rewriting the files: the node is reported
 *  Failed, which is not repaired again (a new desired hash starts over), so the kubelet is not
 *  restarted in a loop. A drift that went away by itself (the file restored) is reported
 *  Applied again. */
export function driftReport(annotations: Annotations, want: Expectation, drift: string | undefined, now: number, flapWindowMs: number): Record<string, string | null> | undefined {
  const a = annotations ?? {};
  const state = a[A_STATE];
  const at = new Date(now).toISOString();
  if (drift === undefined) {
    if (state !== 'Drifted') return undefined;
    return { [A_STATE]: 'Applied', [A_STATE_HASH]: want.hash, [A_APPLIED_HASH]: want.hash, [A_MESSAGE]: null, [A_STATE_TIME]: at };
  }
  if (state === 'Drifted' && a[A_MESSAGE] === drift) return undefined;
  const since = Date.parse(a[A_STATE_TIME] ?? '');
  const repaired = a[A_REPAIR] !== undefined && a[A_REPAIR] !== '' && state === 'Applied' && a[A_DESIRED_HASH] === want.hash;
  if (repaired && Number.isFinite(since) && now - since < flapWindowMs) {
    const secs = Math.max(0, Math.round((now - since) / 1000));
    return {
      [A_STATE]: 'Failed', [A_STATE_HASH]: want.hash, [A_STATE_TIME]: at,
      [A_MESSAGE]: `drifted again ${secs} s after it was repaired (something else keeps changing it; not repaired again): ${drift}`,
    };
  }
  return { [A_STATE]: 'Drifted', [A_STATE_HASH]: want.hash, [A_APPLIED_HASH]: want.hash, [A_MESSAGE]: drift, [A_STATE_TIME]: at };
}

/** The controller asked for this report to be repaired: A_REPAIR names its A_STATE_TIME. */
export function repairRequested(annotations: Annotations): boolean {
  const a = annotations ?? {};
  const token = a[A_REPAIR];
  const state = a[A_STATE];
  return token !== undefined && token !== '' && token === a[A_STATE_TIME] && (state === 'Drifted' || state === 'Applied') && a[A_STATE_HASH] === a[A_DESIRED_HASH];
}
