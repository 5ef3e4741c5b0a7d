// Worker thread entry (see agent-thread.ts): runs the real node agent for each node it is given,
// over HTTP against the embedded API server, with the kubelet it restarts and probes reached
// through the parent thread.
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { runAgent } from '../agent/agent.js';
import type { KubeletHealthProbeWithError, KubeletRestarter } from '../agent/interfaces.js';
import { PooledKubeConfig } from '../kube/pool.js';
import { createLogger } from '../telemetry/log.js';
import { type AgentSpec, type AgentWorkerData, type FromWorker, type KubeletOp, simAgentOptions, type ToWorker } from './agent-thread.js';

const port = parentPort;
if (!port) throw new Error('agent-worker.ts runs as a worker thread (see agent-thread.ts)');
const data = workerData as AgentWorkerData;

// Every agent of this thread over one pool of keep-alive connections (see PooledKubeConfig).
const kubeConfig = new PooledKubeConfig();
kubeConfig.loadFromString(data.kubeconfig);
const log = data.logLevel ? createLogger('agent', data.logLevel) : undefined;

/** This thread's id in the kernel: Linux names it in /proc/thread-self (<pid>/task/<tid>). */
function threadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}
const tid = threadId();
port.postMessage({ type: 'thread', ...(tid !== undefined ? { tid } : {}) } satisfies FromWorker);

const calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
let nextId = 0;

function call<T>(node: string, op: KubeletOp, timeoutMs?: number): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
    port?.postMessage({ type: 'kubelet', id, node, op, ...(timeoutMs !== undefined ? { timeoutMs } : {}) } satisfies FromWorker);
  });
}

/** The node's kubelet as its agent reaches it: systemd for the restart, the kubelet for health. */
function kubeletOf(node: string): KubeletRestarter & KubeletHealthProbeWithError {
  return {
    restart: () => call<undefined>(node, 'restart'),
    healthy: () => call<boolean>(node, 'healthy'),
    untilHealthy: (timeoutMs) => call<boolean>(node, 'untilHealthy', timeoutMs),
    lastError: () => call<string | undefined>(node, 'lastError'),
  };
}

const aborts: AbortController[] = [];
const runs: Promise<void>[] = [];

function start(spec: AgentSpec): void {
  // One stop signal per agent: thousands of listeners on one shared signal make every add and
  // remove walk them all.
  const abort = new AbortController();
  aborts.push(abort);
  const kubelet = kubeletOf(spec.nodeName);
  runs.push(
    runAgent({
      kubeConfig,
      ...simAgentOptions(spec, kubelet, { signal: abort.signal, syncFs: data.syncFs, drift: data.drift }),
      ...(log ? { log } : {}),
    }).catch(() => undefined),
  );
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'reply') {
    const c = calls.get(m.id);
    calls.delete(m.id);
    if (m.error !== undefined) c?.reject(new Error(m.error));
    else c?.resolve(m.value);
  } else if (m.type === 'start') {
    for (const spec of m.agents) start(spec);
  } else {
    for (const a of aborts) a.abort();
    void Promise.all(runs).then(async () => {
      log?.flush();
      kubeConfig.closePools();
      port.postMessage({ type: 'stopped' } satisfies FromWorker);
    });
  }
});
