// Drift, the watching part: when the agent looks at its files again. Editors and configuration
// management replace a file by renaming another over it, and `rm -rf` takes the whole drop-in
// directory, so the watch is on the directory (inotify through fs.watch), for our file's name.
// A periodic re-check backs it up (a watch can miss what happens while it is re-armed, or be
// refused): one timer for every agent of the process, each agent due once per period at its own
// offset, so 5,000 agents in one embedded cluster re-check ~83 files a second, not 5,000 at once.
// When a watch cannot be added (inotify's max_user_watches or max_user_instances reached: ENOSPC,
// EMFILE), that agent falls back to the re-check alone, at a shorter period, and says so once.
import { type BigIntStats, type FSWatcher, watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { decode, type Report } from '../api/handoff.js';
import { errCode } from '../util/errors.js';
import { type FsOps, realFsOps } from './atomic.js';
import { slotTimer } from '../util/slot-timer.js';
import { dropinPath, readIfExists } from './files.js';
import type { KubeletLayout } from './detect.js';
import { dropinDrift, driftReport, type Expectation, expectationOf, mainDrift } from './drift.js';
import { type Logger, silentLogger } from '../log.js';

export interface DriftOptions {
  /** The periodic re-check of a watched node. Default 60 s. */
  periodMs?: number;
  /** The re-check of a node whose directory could not be watched. Default 5 s. */
  pollMs?: number;
  /** A drift found within this long after a repair is not repaired again (the node fails). Default 10 min. */
  flapWindowMs?: number;
  /** Events are gathered this long before the files are read (an editor writes in several steps). Default 50 ms. */
  settleMs?: number;
  /** fs.watch (a test injects one that fails as inotify does at its limits). */
  watch?: typeof watch;
}

/** One agent's periodic re-check, on the process's 1 s slot timer: a tick runs only the
 *  re-checks due in it (~83 a second at 5,000 agents), not a pass over every agent's. */
class Recheck {
  private nextAt = Infinity;
  private cancel: (() => void) | undefined;

  constructor(
    /** The time between two re-checks, from the next one on. */
    public periodMs: number,
    private readonly poke: () => void,
  ) {}

  /** Schedules the next re-check at `ms`, or keeps the one already due before it. */
  by(ms: number): void {
    if (this.cancel && this.nextAt <= ms) return;
    this.cancel?.();
    this.nextAt = ms;
    this.cancel = rechecks.at(ms, (now) => {
      this.cancel = undefined;
      this.by(now + this.periodMs);
      this.poke();
    });
  }

  stop(): void {
    this.cancel?.();
    this.cancel = undefined;
  }
}

const rechecks = slotTimer(1_000);

/** Watches the files one node's agent owns and tells it when to look at them again. */
export class DriftWatch {
  private readonly o: Required<Omit<DriftOptions, 'watch'>>;
  private readonly watchFn: typeof watch;
  private watcher: FSWatcher | undefined;
  private watched: string | undefined;
  /** The watched directory's inode when the watch was added (read as it is added: a check that
   *  ran before the answer would take the new watch for a dead one and add it again). */
  private watchedId: Promise<string> | undefined;
  /** Watching failed for this directory: the re-check alone covers it. */
  private unwatchable: string | undefined;
  private readonly due: Recheck;
  private settle: NodeJS.Timeout | undefined;
  /** Why the next check runs: 'event' and 'expectation' always read; 'backstop' may skip an
   *  unchanged file (same inode, size and times as the last read). */
  private reason: 'event' | 'backstop' | 'expectation' | undefined = 'expectation';
  private lastKey: string | undefined;
  private lastStat: string | undefined;
  private lastDrift: string | undefined;
  private closed = false;

  constructor(
    opts: DriftOptions,
    /** Wakes the agent's loop, which calls step(). */
    private readonly wake: () => void,
    private readonly log: Logger = silentLogger,
    /** How the files are read (the agent's FsOps: synchronous calls on the embedded cluster's tmpfs). */
    private readonly fs: FsOps = realFsOps,
  ) {
    const { watch: watchFn, ...o } = opts;
    this.o = { periodMs: 60_000, pollMs: 5_000, flapWindowMs: 10 * 60_000, settleMs: 50, ...o };
    this.watchFn = watchFn ?? watch;
    this.due = new Recheck(this.o.periodMs, () => this.mark('backstop'));
    this.due.by(Date.now() + Math.random() * this.o.periodMs);
  }

  /** One look, from the agent's loop while it has nothing to apply: the patch to report drift
   *  (or its end), if any. Reads the files only when something may have changed. */
  async step(annotations: Record<string, string> | undefined, layout: KubeletLayout | undefined, now: number): Promise<Report | undefined> {
    const want = layout ? expectationOf(annotations) : undefined;
    // Each new report (an apply, a repair, our own drift report) is looked at once at least.
    const h = decode(annotations);
    const key = want && layout ? `${layout.mode}:${want.hash}:${h.state ?? ''}:${h.stateTime ?? ''}` : undefined;
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.lastStat = undefined;
      this.reason = 'expectation';
    }
    if (!want || !layout) {
      this.arm(undefined);
      return undefined;
    }
    const file = layout.mode === 'dropin' ? dropinPath(layout.dropinDir) : layout.configFile;
    this.arm(file);
    const reason = this.reason;
    if (reason === undefined) return undefined;
    this.reason = undefined;
    const fingerprint = await fileFingerprint(file, this.fs);
    if (reason === 'backstop' && fingerprint === this.lastStat) return this.report(annotations, want, this.lastDrift, now);
    // Absent a moment ago: read as absent (one made since wakes the watch, and is read then).
    const text = fingerprint === ABSENT ? null : await readIfExists(file, this.fs);
    // Gone, perhaps with its directory (rm -rf, maybe made again since): a watch on a directory
    // that was removed is dead.
    if (text === null && (await dirIdentity(dirname(file), this.fs)) !== (await this.watchedId)) this.rearm(file);
    this.lastStat = fingerprint;
    this.lastDrift = layout.mode === 'dropin' ? dropinDrift(text, want) : mainDrift(text, want, basename(file));
    return this.report(annotations, want, this.lastDrift, now);
  }

  /** Watching the directory (false: re-checking it every pollMs instead). For tests and logs. */
  get watching(): boolean {
    return this.watcher !== undefined;
  }

  close(): void {
    this.closed = true;
    this.arm(undefined);
    clearTimeout(this.settle);
    this.due.stop();
  }

  private report(annotations: Record<string, string> | undefined, want: Expectation, drift: string | undefined, now: number): Report | undefined {
    return driftReport(annotations, want, drift, now, this.o.flapWindowMs);
  }

  private mark(reason: 'event' | 'backstop'): void {
    if (this.closed) return;
    if (this.reason !== 'event' && this.reason !== 'expectation') this.reason = reason;
    this.wake();
  }

  private rearm(file: string): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.watched = undefined;
    this.arm(file);
  }

  /** Watches the directory of `file` (nothing for undefined), re-arming when it changed or
   *  the old watch died (the directory was removed and made again). */
  private arm(file: string | undefined): void {
    const dir = file === undefined ? undefined : dirname(file);
    if (dir === this.watched && (this.watcher !== undefined || dir === undefined)) return;
    this.watcher?.close();
    this.watcher = undefined;
    this.watched = dir;
    if (dir === undefined || file === undefined || this.closed) return;
    const name = basename(file);
    try {
      const w = this.watchFn(dir, { persistent: false }, (_event, changed) => {
        if (changed !== null && changed !== name) return;
        clearTimeout(this.settle);
        this.settle = setTimeout(() => this.mark('event'), this.o.settleMs);
      });
      w.on('error', () => {
        // The directory went away (rm -rf): the re-check notices, and arms a new watch once it is back.
        w.close();
        if (this.watcher === w) this.watcher = undefined;
        this.mark('event');
      });
      this.watcher = w;
      this.watchedId = dirIdentity(dir, this.fs);
      this.due.periodMs = this.o.periodMs;
      this.unwatchable = undefined;
    } catch (e: unknown) {
      const code = errCode(e) ?? '';
      // No directory yet (a drop-in dir removed whole): look again at the next re-check.
      if (code !== 'ENOENT' && this.unwatchable !== dir) {
        this.log.warn({ dir, err: e }, `cannot watch ${dir} (${code === 'ENOSPC' || code === 'EMFILE' ? 'inotify limits reached: fs.inotify.max_user_watches / max_user_instances' : code}); re-checking it every ${this.o.pollMs} ms instead`);
      }
      this.unwatchable = dir;
      this.watched = undefined;
      this.due.periodMs = this.o.pollMs;
      this.due.by(Date.now() + this.o.pollMs);
    }
  }
}

const ABSENT = 'absent';

/** stat, or undefined when the path is not there; other failures (not ours to read) throw. */
async function statOf(path: string, ops: FsOps): Promise<BigIntStats | undefined> {
  try {
    return await (ops.statBig ? ops.statBig(path) : stat(path, { bigint: true }));
  } catch (e: unknown) {
    const code = errCode(e);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

/** A directory's device and inode (ABSENT when it cannot be looked at). */
async function dirIdentity(dir: string, ops: FsOps): Promise<string> {
  const s = await statOf(dir, ops).catch(() => undefined);
  return s ? `${s.dev}:${s.ino}` : ABSENT;
}

/** Inode, size and change times: a file replaced or rewritten shows a different one. */
async function fileFingerprint(path: string, ops: FsOps): Promise<string> {
  const s = await statOf(path, ops);
  return s ? `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}` : ABSENT;
}
