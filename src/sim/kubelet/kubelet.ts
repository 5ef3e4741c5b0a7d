// A simulated kubelet: reads its real files at (re)start like the kubelet does, takes restartMs
// to become healthy, and on an invalid config stays down (crash-looping) with the error kept.
// It is both the agent's KubeletRestarter and its KubeletHealthProbe in the embedded cluster.
import { createHash } from 'node:crypto';
import type { Clock, KubeletHealthProbe, KubeletRestarter } from '../../agent/interfaces.js';
import { type JsonObject, loadKubeletConfig, minorOf, parseKubeletVersion } from './config.js';
import {
  HOST_CONFIG_FILE,
  HOST_DROPIN_DIR,
  hostPath,
  kubeletArgv,
  kubeletEnv,
  layOutNode,
  type ProcEntry,
} from './layout.js';

export interface SimKubeletStatus {
  running: boolean;
  ready: boolean;
  error?: string;
}

export interface SimKubeletOptions {
  nodeName: string;
  /** Kubelet version, e.g. 'v1.29.3'. */
  version: string;
  /** Host root directory of the node (a temp dir). */
  root: string;
  /** Time from a restart until the kubelet is healthy. */
  restartMs: number;
  /** Run with --config-dir. Default: version >= 1.28. */
  useDropinDir?: boolean;
  /** Reject any config that contains `tracing` (for --fail-nodes demos). */
  rejectAll?: boolean;
  clock?: Clock;
  onStatus?: (s: SimKubeletStatus) => void;
  /** The config the running kubelet uses, on every change (undefined: down or crash-looping). */
  onConfig?: (effective: JsonObject | undefined) => void;
  /** Pid of the fake kubelet process. Default: derived from nodeName. */
  pid?: number;
  /** Initial main config text. Default: a kubeadm-style config. */
  configText?: string;
}

export interface RestartRecord {
  startedAt: number;
  readyAt?: number;
  failedAt?: number;
  error?: string;
  /** Set when another restart began before this one became ready or failed. */
  supersededAt?: number;
}

export class SimKubelet implements KubeletRestarter, KubeletHealthProbe {
  readonly nodeName: string;
  /** Changes only with upgrade(). */
  version: string;
  minor: number;
  readonly root: string;
  readonly useDropinDir: boolean;
  readonly restartLog: RestartRecord[] = [];
  readonly proc: ProcEntry;
  /** The last start error, kept while the kubelet crash-loops (sync view of lastError()). */
  error: string | undefined;
  warnings: string[] = [];

  private readonly opts: SimKubeletOptions;
  private running = false;
  private ready = false;
  private effective: JsonObject | undefined;
  /** Bumped on every restart and on stop: a pending start from an older generation is dropped. */
  private generation = 0;
  private stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Callers of untilHealthy(), told at the next change of health. */
  private waiters: Array<(healthy: boolean) => void> = [];

  constructor(opts: SimKubeletOptions) {
    this.opts = opts;
    this.nodeName = opts.nodeName;
    this.version = opts.version;
    this.minor = minorOf(parseKubeletVersion(opts.version));
    this.root = opts.root;
    this.useDropinDir = opts.useDropinDir ?? this.minor >= 28;
    if (this.useDropinDir && this.minor < 28) {
      throw new Error(`kubelet ${opts.version} has no --config-dir (needs 1.28+)`);
    }
    const pid = opts.pid ?? 1000 + (createHash('sha256').update(opts.nodeName).digest().readUInt16BE(0) % 30000);
    this.proc = { pid, argv: kubeletArgv(this.useDropinDir), env: kubeletEnv(this.minor, this.useDropinDir) };
  }

  /** Absolute path of the main config on this machine. */
  get configFile(): string {
    return hostPath(this.root, HOST_CONFIG_FILE);
  }

  /** Absolute path of the drop-in dir on this machine, when the kubelet uses one. */
  get dropinDir(): string | undefined {
    return this.useDropinDir ? hostPath(this.root, HOST_DROPIN_DIR) : undefined;
  }

  get procRoot(): string {
    return hostPath(this.root, '/proc');
  }

  /** Lays out the node and starts the kubelet with its initial config, already healthy. */
  async init(): Promise<void> {
    await layOutNode({
      root: this.root,
      nodeName: this.nodeName,
      useDropinDir: this.useDropinDir,
      kubelet: this.proc,
      ...(this.opts.configText !== undefined ? { configText: this.opts.configText } : {}),
    });
    const now = this.now();
    const record: RestartRecord = { startedAt: now };
    this.restartLog.push(record);
    const res = await this.load();
    if ('error' in res) {
      this.fail(record, res.error);
      throw new Error(`simulated kubelet ${this.nodeName} cannot start: ${res.error}`);
    }
    this.setEffective(res.effective);
    record.readyAt = now;
    this.setStatus(true, true);
  }

  /** Like `systemctl restart kubelet`: returns once the restart is initiated. */
  async restart(): Promise<void> {
    if (this.stopped) throw new Error(`simulated kubelet ${this.nodeName} is stopped`);
    const gen = ++this.generation;
    const prev = this.restartLog[this.restartLog.length - 1];
    if (prev && prev.readyAt === undefined && prev.failedAt === undefined) prev.supersededAt = this.now();
    const record: RestartRecord = { startedAt: this.now() };
    this.restartLog.push(record);
    this.setEffective(undefined);
    this.setStatus(true, false);
    // The new process reads its files right away; readiness follows restartMs later.
    const res = await this.load();
    if (gen !== this.generation) return;
    if ('error' in res) {
      this.fail(record, res.error);
      return;
    }
    const { effective } = res;
    void this.delay(this.opts.restartMs).then((fired) => {
      if (!fired || gen !== this.generation || this.stopped) return;
      this.setEffective(effective);
      this.error = undefined;
      record.readyAt = this.now();
      this.setStatus(true, true);
    });
  }

  /** A kubelet upgrade: a new binary under the same unit, flags and files. Like the real one, it
   *  restarts the kubelet, which reads the files as they are (ours included) with the rules of
   *  its new version, and stays down if they no longer pass. */
  async upgrade(version: string): Promise<void> {
    const minor = minorOf(parseKubeletVersion(version));
    if (this.useDropinDir && minor < 28) throw new Error(`kubelet ${version} has no --config-dir (needs 1.28+), and this node's kubelet runs with it`);
    this.version = version;
    this.minor = minor;
    await this.restart();
  }

  async healthy(): Promise<boolean> {
    return this.running && this.ready;
  }

  /** KubeletHealthWaiter: the agent waits on the kubelet's own state change instead of polling. */
  async untilHealthy(timeoutMs: number): Promise<boolean> {
    if (this.running && this.ready) return true;
    if (this.stopped) return false;
    return new Promise((resolve) => {
      let settled = false;
      const settle = (ok: boolean): void => {
        if (settled) return;
        settled = true;
        this.waiters = this.waiters.filter((w) => w !== onChange);
        resolve(ok);
      };
      const onChange = (healthy: boolean): void => {
        if (healthy || this.stopped) settle(healthy);
      };
      this.waiters.push(onChange);
      void this.delay(timeoutMs).then(() => settle(this.running && this.ready));
    });
  }

  /** The kubelet's last start error (KubeletHealthProbe.lastError), for the agent's rollback message. */
  async lastError(): Promise<string | undefined> {
    return this.error;
  }

  /** What GET /configz returns; undefined while the kubelet is down. */
  configz(): { kubeletconfig: JsonObject } | undefined {
    if (!this.ready || this.effective === undefined) return undefined;
    return { kubeletconfig: structuredClone(this.effective) };
  }

  status(): SimKubeletStatus {
    return { running: this.running, ready: this.ready, ...(this.error !== undefined ? { error: this.error } : {}) };
  }

  /** Whether the last restart is still on its way to healthy (or to failing). */
  get restarting(): boolean {
    const last = this.restartLog[this.restartLog.length - 1];
    return last !== undefined && last.readyAt === undefined && last.failedAt === undefined && last.supersededAt === undefined;
  }

  stop(): void {
    this.stopped = true;
    this.generation++;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const w of [...this.waiters]) w(false);
  }

  /** Reads and validates the files as the kubelet does at start. */
  private async load(): Promise<{ effective: JsonObject } | { error: string }> {
    try {
      const dropinDir = this.dropinDir;
      const res = await loadKubeletConfig({
        configFile: this.configFile,
        ...(dropinDir !== undefined ? { dropinDir } : {}),
        env: this.proc.env,
        minor: this.minor,
      });
      if (this.opts.rejectAll && res.effective['tracing'] !== undefined) {
        throw new Error('invalid configuration: tracing rejected by this node (simulated failure)');
      }
      this.warnings = res.warnings;
      return { effective: res.effective };
    } catch (e: unknown) {
      return { error: e instanceof Error ? e.message : String(e) };
    }
  }

  private fail(record: RestartRecord, error: string): void {
    record.failedAt = this.now();
    record.error = error;
    this.error = error;
    this.setEffective(undefined);
    // systemd keeps restarting it; it keeps failing on the same files, so: not running.
    this.setStatus(false, false, error);
  }

  private setEffective(effective: JsonObject | undefined): void {
    if (effective === this.effective) return;
    this.effective = effective;
    this.opts.onConfig?.(effective);
  }

  private setStatus(running: boolean, ready: boolean, error?: string): void {
    this.running = running;
    this.ready = ready;
    this.opts.onStatus?.({ running, ready, ...(error !== undefined ? { error } : {}) });
    for (const w of [...this.waiters]) w(running && ready);
  }

  private now(): number {
    return this.opts.clock ? this.opts.clock.now() : Date.now();
  }

  /** Resolves true when the delay elapsed, false if stop() cancelled it. */
  private delay(ms: number): Promise<boolean> {
    const clock = this.opts.clock;
    if (clock) return clock.sleep(ms).then(() => !this.stopped);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve(true);
      }, ms);
      this.timers.add(t);
      // stop() clears the timer; the promise then never settles, which is fine for a fire-and-forget start.
    });
  }
}
