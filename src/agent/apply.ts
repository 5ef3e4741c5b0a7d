// One apply on the node: write the desired config, restart the kubelet, prove it healthy, and
// roll back to the previous bytes if it does not come back. Idempotent: when the files already
// say what is desired, nothing is written and the kubelet is not restarted.
//
// A small journal (the snapshot, next to the main config) lives from before the write until
// the outcome is known. If the agent dies mid-apply, the next run finds it, restarts even
// though the files already match, and can still roll back to the real previous bytes.
import { type FsOps, realFsOps, removeFileDurable, writeFileAtomic } from './atomic.js';
import type { KubeletLayout } from './detect.js';
import {
  type KubeletConfigObject,
  managedFiles,
  planChanges,
  readIfExists,
  restoreSnapshot,
  type Snapshot,
  takeSnapshot,
  writeChanges,
} from './files.js';
import type { KubeletHealthProbeWithError, KubeletRestarter } from './interfaces.js';
import type { ApplyOutcome } from '../api/handoff.js';
import { type Clock, sleep } from '../util/clock.js';

export type ApplyPhase = 'write' | 'restart' | 'health' | 'rollback';

/** Wraps each phase (e.g. in a span). Must call fn and return its result. */
export type PhaseHook = <T>(phase: ApplyPhase, fn: () => Promise<T>) => Promise<T>;

export interface DesiredConfig {
  hash: string;
  /** The KubeletConfiguration to apply, or null to remove ours. */
  config: KubeletConfigObject | null;
}

export interface ApplyOptions {
  layout: KubeletLayout;
  desired: DesiredConfig;
  restarter: KubeletRestarter;
  health: KubeletHealthProbeWithError;
  clock: Clock;
  /** How long the kubelet gets to become healthy after each restart. */
  timeoutMs: number;
  pollMs: number;
  onPhase?: PhaseHook;
  fs?: FsOps;
  /** A drift repair: restart the kubelet even when the files already say what is desired (it
   *  may have restarted on the drifted ones, or, with verify: Configz, run another config). */
  forceRestart?: boolean;
}

export interface ApplyResult {
  state: ApplyOutcome;
  message?: string;
  restarted: boolean;
  durationMs: number;
}

export const journalPath = (layout: KubeletLayout): string => `${layout.configFile}.nodetracing.journal.json`;

interface Journal {
  hash: string;
  snapshot: Snapshot;
}

async function readJournal(path: string, fs: FsOps): Promise<Journal | undefined> {
  const text = await readIfExists(path, fs);
  if (text === null) return undefined;
  try {
    // Whatever is on disk: checked before it is trusted as a Journal.
    const v = JSON.parse(text) as Partial<Journal> | null;
    if (typeof v?.hash === 'string' && Array.isArray(v.snapshot?.files)) return v as Journal;
  } catch {
    // A torn journal cannot happen (atomic write); anything else unreadable is ignored.
  }
  return undefined;
}

const errMsg = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Polls health until healthy (true) or timeoutMs elapsed (false); a probe that can say when
 *  the kubelet is healthy is waited on instead. */
export async function waitHealthy(health: KubeletHealthProbeWithError, clock: Clock, timeoutMs: number, pollMs: number): Promise<boolean> {
  if (health.untilHealthy) return health.untilHealthy(timeoutMs);
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    try {
      if (await health.healthy()) return true;
    } catch {
      // a failing probe is an unhealthy kubelet
    }
    if (clock.now() >= deadline) return false;
    await sleep(clock, Math.min(pollMs, Math.max(1, deadline - clock.now())));
  }
}

export async function applyDesired(o: ApplyOptions): Promise<ApplyResult> {
  const start = o.clock.now();
  const fs = o.fs ?? realFsOps;
  const phase: PhaseHook = o.onPhase ?? ((_p, fn) => fn());
  const done = (state: ApplyOutcome, restarted: boolean, message?: string): ApplyResult => ({
    state,
    restarted,
    durationMs: o.clock.now() - start,
    ...(message !== undefined ? { message } : {}),
  });
  const jPath = journalPath(o.layout);

  const journal = await readJournal(jPath, fs);
  // An interrupted apply may have left some files new and some old (main mode writes a state
  // file and the config): go back to the exact bytes from before it, then plan afresh.
  if (journal) await restoreSnapshot(journal.snapshot, fs);
  const changes = await planChanges(o.layout, o.desired.config, fs);
  if (changes.length === 0 && journal === undefined && !o.forceRestart) return done('Applied', false);

  // An interrupted apply's journal holds the real previous bytes; otherwise take them now.
  const snapshot = journal?.snapshot ?? (await takeSnapshot(managedFiles(o.layout), fs));
  if (journal === undefined || journal.hash !== o.desired.hash) {
    await writeFileAtomic(jPath, JSON.stringify({ hash: o.desired.hash, snapshot } satisfies Journal), fs, { mode: 0o600 });
  }

  try {
    await phase('write', () => writeChanges(changes, fs));
  } catch (e: unknown) {
    // The kubelet was not restarted: put the bytes back and report; the node is unchanged.
    await restoreSnapshot(snapshot, fs).catch(() => undefined);
    await removeFileDurable(jPath, fs).catch(() => undefined);
    return done('Failed', false, `writing the kubelet config failed: ${errMsg(e)}`);
  }

  let reason: string;
  try {
    await phase('restart', () => o.restarter.restart());
    const ok = await phase('health', () => waitHealthy(o.health, o.clock, o.timeoutMs, o.pollMs));
    if (ok) {
      await removeFileDurable(jPath, fs);
      return done('Applied', true);
    }
    reason = `kubelet not healthy within ${o.timeoutMs} ms after the restart`;
  } catch (e: unknown) {
    reason = `kubelet restart failed: ${errMsg(e)}`;
  }
  const kubeletError = await o.health.lastError?.().catch(() => undefined);
  if (kubeletError) reason += `: ${kubeletError}`;

  return phase('rollback', async () => {
    try {
      await restoreSnapshot(snapshot, fs);
      await o.restarter.restart();
      const ok = await waitHealthy(o.health, o.clock, o.timeoutMs, o.pollMs);
      await removeFileDurable(jPath, fs);
      if (ok) return done('RolledBack', true, `${reason}; previous config restored`);
      return done('Failed', true, `${reason}; rollback to the previous config did not bring the kubelet back either`);
    } catch (e: unknown) {
      return done('Failed', true, `${reason}; rollback failed: ${errMsg(e)}`);
    }
  });
}
