// The controller's side of the rollout benchmark, run in a child process so that its CPU, heap
// and requests are its own, plus the naive baseline cache it is compared with.
//   mode "controller": the real Controller (trimmed node cache) against the kubeconfig. From the
//     parent's 'mark' (the policy was created) to its 'report' (the rollout converged) it
//     measures, from the inside: each reconcile, each slot hand-over (from the Node watch event
//     that frees a slot to the release write being sent), its writes, the bytes its watches
//     received, its CPU, and (optionally) a CPU profile of that window.
//   mode "full-cache": a naive cache, whole V1Node objects as client-node lists and watches them
//     (startInformer with no transform), as a controller without field trimming would keep.
//   mode "trimmed-cache": the same informer with the controller's trimNode, alone.
// Run by bench/rollout.ts through fork(); not meant to be run by hand.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Session } from 'node:inspector/promises';
import type { Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as k8s from '@kubernetes/client-node';
import { A_DESIRED_HASH, A_STATE, A_STATE_HASH } from '../src/api/annotations.js';
import { Controller } from '../src/controller/controller.js';
import { trimNode, type CachedNode } from '../src/controller/nodes.js';
import { startInformer } from '../src/kube/informer.js';
import { PROFILE_INTERVAL_US } from './cpuprofile.js';

const LOOP_RESOLUTION_MS = 5;

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
  /** CPU since the mark. */
  cpuUserMs: number;
  cpuSystemMs: number;
  reconcileMs: number[];
  /** The planner call alone (pure: no I/O), per reconcile. */
  plannerMs: number[];
  /** From the Node event that freed a slot to the release write filling it being sent. */
  handoverMs: number[];
  /** Each write's round trip, as the writer observed it. */
  writeMs: number[];
  /** Writes since the mark: node hand-offs (patches of Nodes) and the rest (status, events, finalizer). */
  nodeWrites: number;
  otherWrites: number;
  /** Bytes received on the watch connections since the mark. */
  watchBytes: number;
  /** The controller's event-loop delay since the mark (p50, p99, max; ms). */
  loopDelayMs: [number, number, number];
  cached: number;
  /** The CPU profile of the marked window, when one was asked for. */
  profile?: string;
}

export type ParentMessage = { type: 'mark'; maxUnavailable: number; profile?: string } | { type: 'report' } | { type: 'stop' };
export type ChildMessage = { type: 'synced'; heapBefore: number; heapSynced: number; syncMs: number } | { type: 'marked' } | { type: 'report'; report: ChildReport };

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

/** The module objects themselves (an ESM namespace is read-only): node-fetch calls their `request`. */
const require = createRequire(import.meta.url);
const http = require('node:http') as typeof import('node:http');
const https = require('node:https') as typeof import('node:https');

/** The sockets of watch requests: client-node's Watch goes through http(s).request (node-fetch);
 *  the bench's kubeconfig is https. */
function trackWatchSockets(): Set<Socket> {
  const sockets = new Set<Socket>();
  for (const mod of [http, https]) {
    const request = mod.request;
    const tracked = ((...args: Parameters<typeof http.request>) => {
      const req = request(...args);
      if (/[?&]watch=true/.test(req.path)) req.once('socket', (s: Socket) => sockets.add(s));
      return req;
    }) as typeof http.request;
    mod.request = tracked;
  }
  return sockets;
}

const bytesRead = (sockets: Set<Socket>): number => [...sockets].reduce((n, s) => n + s.bytesRead, 0);

/** A node whose agent reported the desired config applied, on a Ready node: its slot is free. */
function freesSlot(n: CachedNode | undefined): boolean {
  const a = n?.ours ?? {};
  return n !== undefined && n.ready && a[A_STATE] === 'Applied' && a[A_DESIRED_HASH] !== undefined && a[A_STATE_HASH] === a[A_DESIRED_HASH];
}

async function child(mode: ChildMode, kubeconfigPath: string): Promise<void> {
  const send = (m: ChildMessage): void => void process.send?.(m);
  const watchSockets = trackWatchSockets();
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const heapBefore = gcHeap();
  const t0 = performance.now();
  let marked = false;
  let cpu0 = process.cpuUsage();
  let bytes0 = 0;
  let maxUnavailable = 0;
  let profiler: { session: Session; file: string } | undefined;
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  const reconcileMs: number[] = [];
  const plannerMs: number[] = [];
  const writeMs: number[] = [];
  const frees: number[] = [];
  const releases: number[] = [];
  let nodeWrites = 0;
  let otherWrites = 0;
  let stop: () => Promise<void>;
  let cached = (): number => 0;

  if (mode === 'controller') {
    const c = new Controller({
      kubeConfig: kc,
      noLeaderElection: true,
      wrapPlan: (fn) => {
        const s = performance.now();
        try {
          return fn();
        } finally {
          if (marked) plannerMs.push(performance.now() - s);
        }
      },
      onWrite: (w) => {
        if (!marked) return;
        writeMs.push(w.ms);
        if (w.resource === 'nodes' && w.verb === 'patch') {
          nodeWrites++;
          releases.push(performance.now() - w.ms);
        } else otherWrites++;
      },
      onNodeEvent: (n, old) => {
        if (marked && freesSlot(n) && !freesSlot(old)) frees.push(performance.now());
      },
      wrapReconcile: async (_info, fn) => {
        const s = performance.now();
        try {
          return await fn();
        } finally {
          if (marked) reconcileMs.push(performance.now() - s);
        }
      },
    });
    await c.start();
    stop = () => c.stop();
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

  /** FIFO: the k-th slot freed is filled by the k-th release after the first batch. */
  const handovers = (): number[] => {
    const sent = [...releases].sort((a, b) => a - b).slice(maxUnavailable);
    return frees.slice(0, sent.length).map((f, k) => (sent[k] ?? f) - f).filter((ms) => ms >= 0);
  };

  process.on('message', (m: ParentMessage) => {
    void (async () => {
      if (m.type === 'mark') {
        maxUnavailable = m.maxUnavailable;
        if (m.profile) {
          const session = new Session();
          session.connect();
          await session.post('Profiler.enable');
          await session.post('Profiler.setSamplingInterval', { interval: PROFILE_INTERVAL_US });
          await session.post('Profiler.start');
          profiler = { session, file: m.profile };
        }
        cpu0 = process.cpuUsage();
        bytes0 = bytesRead(watchSockets);
        loop.reset();
        loop.enable();
        marked = true;
        send({ type: 'marked' });
      } else if (m.type === 'report') {
        marked = false;
        const cpu = process.cpuUsage(cpu0);
        loop.disable();
        // The histogram holds the sampling interval plus the delay: keep the delay.
    const loopDelayMs = [loop.percentile(50), loop.percentile(99), loop.max].map((ns) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS)) as [number, number, number];
        const watchBytes = bytesRead(watchSockets) - bytes0;
        let profile: string | undefined;
        if (profiler) {
          const { profile: p } = await profiler.session.post('Profiler.stop');
          writeFileSync(profiler.file, JSON.stringify(p));
          profile = profiler.file;
          profiler.session.disconnect();
          profiler = undefined;
        }
        send({
          type: 'report',
          report: {
            mode, heapBefore, heapSynced, heapNow: gcHeap(), rss: process.memoryUsage().rss, rssPeak: vmHwm(),
            cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000, reconcileMs, plannerMs, handoverMs: handovers(), writeMs,
            nodeWrites, otherWrites, watchBytes, loopDelayMs, cached: cached(), ...(profile ? { profile } : {}),
          },
        });
      } else if (m.type === 'stop') {
        await stop().finally(() => process.exit(0));
      }
    })();
  });
}

const modeArg = process.argv[2];
if (process.send && (modeArg === 'controller' || modeArg === 'full-cache' || modeArg === 'trimmed-cache')) {
  const path = process.argv[3];
  if (!path) throw new Error('usage: baseline.ts <mode> <kubeconfig>');
  await child(modeArg, path);
}
