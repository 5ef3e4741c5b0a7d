// The embedded cluster's node agents in a worker thread of their own, so that thousands of them
// (their HTTP clients, JSON parsing and file steps) run on a second core beside the API server.
// Every agent is still the real one: runAgent, listing and watching its Node and patching its
// reports over HTTP against the API server, and writing its node's files itself. What crosses
// the thread boundary is only what crosses a host boundary in a real cluster: the agent asks
// systemd to restart the kubelet and the kubelet whether it is healthy (here, the simulated
// kubelet, which lives with the API server's thread because its heartbeats and /configz do).
import { Worker } from 'node:worker_threads';
import type { RunAgentOptions } from '../agent/agent.js';
import { syncFsOps } from '../agent/atomic.js';
import type { DriftOptions } from '../agent/drift-watch.js';
import type { KubeletHealthProbeWithError, KubeletRestarter } from '../agent/interfaces.js';
import type { LogLevel } from '../log.js';
import type { SimKubelet } from './kubelet/index.js';

/** One agent to start in the worker. */
export interface AgentSpec {
  nodeName: string;
  hostRoot: string;
  procRoot: string;
  kubeletVersion: string;
  timeoutMs: number;
  watchTimeoutSeconds: number;
}

/** The options of a simulated node's agent, in process or in the thread: `kubelet` is how it
 *  restarts and probes its kubelet, `syncFs` whether its host dir is in memory (tmpfs). */
export function simAgentOptions(
  spec: AgentSpec,
  kubelet: KubeletRestarter & KubeletHealthProbeWithError,
  o: { signal: AbortSignal; syncFs: boolean; drift: DriftOptions | false | undefined },
): Omit<RunAgentOptions, 'kubeConfig'> {
  return {
    nodeName: spec.nodeName,
    detect: { hostRoot: spec.hostRoot, procRoot: spec.procRoot, kubeletVersion: spec.kubeletVersion },
    restarter: kubelet,
    health: kubelet,
    timeoutMs: spec.timeoutMs,
    // The simulated kubelet answers health from memory: polling often costs nothing.
    pollMs: 10,
    watchTimeoutSeconds: spec.watchTimeoutSeconds,
    signal: o.signal,
    ...(o.syncFs ? { fs: syncFsOps } : {}),
    ...(o.drift !== undefined ? { drift: o.drift } : {}),
  };
}

export interface AgentWorkerData {
  kubeconfig: string;
  /** Log level of the agents' logger (stderr, as `kto agent`); none: silent. */
  logLevel?: LogLevel;
  /** The host dirs are on tmpfs: file steps as synchronous calls (see syncFsOps). */
  syncFs: boolean;
  /** The agents' drift watch (SimClusterOptions.agentDrift), its function-free part. */
  drift?: Omit<DriftOptions, 'watch'> | false;
}

export type KubeletOp = 'restart' | 'healthy' | 'untilHealthy' | 'lastError';

export type ToWorker =
  | { type: 'start'; agents: AgentSpec[] }
  | { type: 'stop' }
  | { type: 'reply'; id: number; value?: unknown; error?: string };

export type FromWorker =
  | { type: 'kubelet'; id: number; node: string; op: KubeletOp; timeoutMs?: number }
  /** The worker's thread id in the kernel, where it has one to tell (Linux). */
  | { type: 'thread'; tid?: number }
  | { type: 'stopped' };

/** The worker: the compiled .js next to this module, or, run from the .ts sources under tsx,
 *  the .ts entry behind tsx's loader registered in the thread (on Node 20 a worker does not
 *  inherit the parent's `--import tsx`). */
function newWorker(data: AgentWorkerData): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./agent-worker.js', import.meta.url), { workerData: data });
  const entry = JSON.stringify(new URL('./agent-worker.ts', import.meta.url).href);
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${entry}); });`, { eval: true, workerData: data });
}

export class AgentThread {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private stopped: Promise<void> | undefined;
  /** Why the thread died (it failed to load, or threw): its agents are gone. */
  failure: Error | undefined;
  /** The thread's id in the kernel (Linux), once the worker has told it: its CPU time is
   *  /proc/<pid>/task/<tid>/stat, apart from the API server's thread (the rollout bench). */
  tid: number | undefined;

  constructor(
    data: AgentWorkerData,
    private readonly kubelets: ReadonlyMap<string, SimKubelet>,
  ) {
    this.worker = newWorker(data);
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.on('message', (m: FromWorker) => {
      if (m.type === 'kubelet') void this.serve(m);
      else if (m.type === 'thread') this.tid = m.tid;
    });
    this.worker.on('error', (err) => {
      this.failure = err;
      process.stderr.write(`kto sim: the node agents' thread failed: ${err.stack ?? err.message}\n`);
    });
  }

  start(agents: AgentSpec[]): void {
    this.post({ type: 'start', agents });
  }

  /** Stops every agent (an apply under way runs to its end, as in-process) and the thread. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      const done = new Promise<void>((resolve) => {
        const onMsg = (m: FromWorker): void => {
          if (m.type !== 'stopped') return;
          this.worker.off('message', onMsg);
          resolve();
        };
        this.worker.on('message', onMsg);
        void this.exited.then(resolve);
      });
      this.post({ type: 'stop' });
      await done;
      await this.worker.terminate();
      await this.exited;
    })();
    return this.stopped;
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  /** The systemd and kubelet side of an agent's call. */
  private async serve(m: Extract<FromWorker, { type: 'kubelet' }>): Promise<void> {
    const k = this.kubelets.get(m.node);
    try {
      if (!k) throw new Error(`node ${m.node} has no kubelet`);
      const value = await kubeletCall(k, m.op, m.timeoutMs);
      this.post({ type: 'reply', id: m.id, value });
    } catch (e: unknown) {
      this.post({ type: 'reply', id: m.id, error: e instanceof Error ? e.message : String(e) });
    }
  }
}

/** One call of an agent on its node's kubelet (systemd's restart, the kubelet's health). */
async function kubeletCall(k: SimKubelet, op: KubeletOp, timeoutMs = 0): Promise<unknown> {
  switch (op) {
    case 'restart':
      await k.restart();
      return undefined;
    case 'healthy':
      return k.healthy();
    case 'untilHealthy':
      return k.untilHealthy(timeoutMs);
    case 'lastError':
      return k.lastError();
  }
}
