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
import { DROPIN_FILE, REMOVED_HASH } from '../api/annotations.js';
import { decode, desiredConfig, type Report } from '../api/handoff.js';
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
  const h = decode(annotations);
  const desired = h.desiredHash;
  const settled = h.state === 'Applied' || h.state === 'Drifted';
  if (desired === undefined || desired === '') {
    // No hand-off: nothing of ours belongs here, whether the controller cleared its keys after
    // a removal or the node was never configured (or the agent itself reported a stray drop-in).
    if (h.state === undefined || (settled && h.stateHash === REMOVED_HASH)) return { hash: REMOVED_HASH, config: null };
    return undefined;
  }
  if (!settled || h.stateHash !== desired || h.appliedHash !== desired) return undefined;
  // A config that is not a JSON object was rejected at apply: nothing to hold the files to.
  const d = desiredConfig(h);
  return d.ok ? { hash: desired, config: d.config } : undefined;
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
export function driftReport(annotations: Annotations, want: Expectation, drift: string | undefined, now: number, flapWindowMs: number): Report | undefined {
  const h = decode(annotations);
  if (drift === undefined) {
    if (h.state !== 'Drifted') return undefined;
    return { state: 'Applied', hash: want.hash, appliedHash: want.hash, timeMs: now };
  }
  if (h.state === 'Drifted' && h.message === drift) return undefined;
  const since = h.stateTimeMs;
  const repaired = h.repair !== undefined && h.repair !== '' && h.state === 'Applied' && h.desiredHash === want.hash;
  if (repaired && since !== undefined && now - since < flapWindowMs) {
    const secs = Math.max(0, Math.round((now - since) / 1000));
    const message = `drifted again ${secs} s after it was repaired (something else keeps changing it; not repaired again): ${drift}`;
    return { state: 'Failed', hash: want.hash, message, timeMs: now };
  }
  return { state: 'Drifted', hash: want.hash, appliedHash: want.hash, message: drift, timeMs: now };
}
