// The controller's side of the rollout benchmark, run in a child process so its memory is its
// own, plus the naive baseline cache it is compared with.
//   mode "controller": the real Controller (trimmed node cache) against --kubeconfig; times
//     every reconcile, counts its writes, reports heap and CPU over IPC.
//   mode "full-cache": a naive cache, whole V1Node objects as client-node lists and watches them
//     (startInformer with no transform), as a controller without field trimming would keep.
//   mode "trimmed-cache": the same informer with the controller's trimNode, alone.
// Run by bench/rollout.ts through fork(); not meant to be run by hand.
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { Controller } from '../src/controller/controller.js';
import { trimNode } from '../src/controller/nodes.js';
import { startInformer } from '../src/kube/informer.js';

export type ChildMode = 'controller' | 'full-cache' | 'trimmed-cache';

export interface ChildReport {
  mode: ChildMode;
  /** heapUsed after a full GC before anything was started (modules loaded). */
  heapBefore: number;
  /** heapUsed after a full GC once the caches were synced. */
  heapSynced: number;
  /** heapUsed after a full GC when asked (after the rollout). */
  heapNow: number;
  rss: number;
  /** Peak RSS (VmHWM) from /proc/self/status, bytes. */
  rssPeak: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  reconcileMs: number[];
  /** The planner call alone (pure: no I/O), per reconcile. */
  plannerMs: number[];
  /** Each write's round trip, as the writer observed it. */
  writeMs: number[];
  writes: number;
  cached: number;
}

export type ParentMessage = { type: 'report' } | { type: 'stop' };
export type ChildMessage = { type: 'synced'; heapBefore: number; heapSynced: number; syncMs: number } | { type: 'report'; report: ChildReport };

function gcHeap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}

function vmHwm(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m?.[1] ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

async function child(mode: ChildMode, kubeconfigPath: string): Promise<void> {
  const send = (m: ChildMessage): void => void process.send?.(m);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const heapBefore = gcHeap();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const reconcileMs: number[] = [];
  const plannerMs: number[] = [];
  const writeMs: number[] = [];
  let stop: () => Promise<void>;
  let writes = (): number => 0;
  let cached = (): number => 0;

  if (mode === 'controller') {
    const c = new Controller({
      kubeConfig: kc,
      noLeaderElection: true,
      planned: (fn) => {
        const s = performance.now();
        try {
          return fn();
        } finally {
          plannerMs.push(performance.now() - s);
        }
      },
      onWrite: (w) => writeMs.push(w.ms),
      wrapReconcile: async (_info, fn) => {
        const s = performance.now();
        try {
          return await fn();
        } finally {
          reconcileMs.push(performance.now() - s);
        }
      },
    });
    await c.start();
    stop = () => c.stop();
    writes = () => c.writer.writes;
    cached = () => c.nodeCache().length;
  } else {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const common = { kubeConfig: kc, path: '/api/v1/nodes', listFn: () => core.listNode() };
    const inf = mode === 'full-cache' ? startInformer<k8s.V1Node>(common) : startInformer<k8s.V1Node, ReturnType<typeof trimNode>>({ ...common, transform: trimNode });
    await inf.synced;
    stop = async () => inf.stop();
    cached = () => inf.list().length;
  }
  const heapSynced = gcHeap();
  send({ type: 'synced', heapBefore, heapSynced, syncMs: performance.now() - t0 });

  process.on('message', (m: ParentMessage) => {
    if (m.type === 'report') {
      const cpu = process.cpuUsage(cpu0);
      send({
        type: 'report',
        report: {
          mode, heapBefore, heapSynced, heapNow: gcHeap(), rss: process.memoryUsage().rss, rssPeak: vmHwm(),
          cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000, reconcileMs, plannerMs, writeMs, writes: writes(), cached: cached(),
        },
      });
    } else if (m.type === 'stop') {
      void stop().finally(() => process.exit(0));
    }
  });
}

const modeArg = process.argv[2];
if (process.send && (modeArg === 'controller' || modeArg === 'full-cache' || modeArg === 'trimmed-cache')) {
  const path = process.argv[3];
  if (!path) throw new Error('usage: baseline.ts <mode> <kubeconfig>');
  await child(modeArg, path);
}
