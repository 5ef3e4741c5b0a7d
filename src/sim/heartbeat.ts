// The simulated kubelets' heartbeats, as a real kubelet sends them: a Lease in kube-node-lease
// renewed every renewInterval (10 s: a quarter of its 40 s duration), and the Node's status
// written only when it changes or every nodeStatusReportFrequency (5 min), and once at each
// kubelet start (a restarted kubelet has no last report). Written in-process: these are the
// kubelets' own writes, not the operator's, and need no HTTP.
//
// One timer for every node, spreading the renewals over the interval: 5,000 nodes renew 500
// Leases a second in small slices, and nothing else wakes up. A renewal changes one timestamp,
// so it takes the store's short path for it (ObjectStore.renewLease).
import type { ObjectStore } from './apiserver/store.js';
import { ApiError } from './apiserver/errors.js';
import { LEASES, NODES, type KubeObject } from './apiserver/types.js';

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

export interface HeartbeatOptions {
  store: ObjectStore;
  /** spec.leaseDurationSeconds of each Lease, in ms (the kubelet's nodeLeaseDurationSeconds: 40 s). */
  leaseDurationMs?: number;
  /** Time between renewals. Default: a quarter of the lease duration, at most 10 s. */
  renewIntervalMs?: number;
  /** nodeStatusReportFrequency: an unchanged status is still written this often. Default 5 min. */
  statusReportMs?: number;
  now?: () => number;
  /** false: no timer; the caller calls tick() (tests, with their own clock). */
  timer?: boolean;
}

interface Beat {
  name: string;
  up: () => boolean;
  /** When the status was last written (ms). */
  reportedAt: number;
  /** Its Lease was created (or found). */
  leased: boolean;
  /** The Node object last found to show the kubelet's conditions. */
  checked?: KubeObject;
}

const CONDITIONS: ReadonlyArray<readonly [type: string, status: string, reason: string, message: string]> = [
  ['MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'],
  ['DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'],
  ['PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'],
  ['Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'],
];

/** metav1.MicroTime as the API serialises it: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

type Condition = { type?: string; status?: string; lastTransitionTime?: string };

function conditionsOf(node: KubeObject): Condition[] {
  const status = node['status'];
  const conds = typeof status === 'object' && status !== null ? (status as { conditions?: unknown }).conditions : undefined;
  return Array.isArray(conds) ? (conds as Condition[]) : [];
}

export class NodeHeartbeats {
  private readonly store: ObjectStore;
  private readonly leaseDurationMs: number;
  private readonly renewIntervalMs: number;
  private readonly statusReportMs: number;
  private readonly now: () => number;
  private readonly slots: Beat[][];
  private readonly byName = new Map<string, Beat>();
  private next = 0;
  private added = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly useTimer: boolean;

  constructor(o: HeartbeatOptions) {
    this.useTimer = o.timer ?? true;
    this.store = o.store;
    this.leaseDurationMs = o.leaseDurationMs ?? 40_000;
    this.renewIntervalMs = o.renewIntervalMs ?? Math.min(10_000, this.leaseDurationMs / 4);
    this.statusReportMs = o.statusReportMs ?? 5 * 60_000;
    this.now = o.now ?? Date.now;
    // Slices of at least 100 ms: a few wake-ups a second whatever the number of nodes.
    this.slots = Array.from({ length: Math.max(1, Math.min(50, Math.floor(this.renewIntervalMs / 100))) }, () => []);
  }

  /** Registers a node's kubelet (its Node must exist) and takes its Lease; `up` says whether
   *  the kubelet is running and healthy. */
  add(name: string, up: () => boolean): void {
    // Spread the 5-minute status reports too (golden-ratio offsets), so they do not all fall due together.
    const spread = ((this.added * 0.6180339887) % 1) * this.statusReportMs;
    const beat: Beat = { name, up, reportedAt: this.now() - spread, leased: false };
    this.slots[this.added++ % this.slots.length]?.push(beat);
    this.byName.set(name, beat);
    if (up()) this.beat(beat, false);
    if (this.useTimer) this.timer ??= setInterval(() => this.tick(), this.tickMs).unref();
  }

  /** A kubelet (re)started and is healthy: it renews its Lease and reports its status at once. */
  started(name: string): void {
    const beat = this.byName.get(name);
    if (beat) this.beat(beat, true);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Time between two slices: `slices` ticks renew every Lease once. */
  get tickMs(): number {
    return this.renewIntervalMs / this.slots.length;
  }

  get slices(): number {
    return this.slots.length;
  }

  /** One slice of the renew interval: its nodes renew their Lease, and report their status if
   *  it changed or is due. */
  tick(): void {
    const slot = this.slots[this.next] ?? [];
    this.next = (this.next + 1) % this.slots.length;
    // One timestamp for the slice: its renewals happen within the same millisecond or two.
    const renewTime = microTime(this.now());
    for (const beat of slot) if (beat.up()) this.beat(beat, false, renewTime);
  }

  private beat(beat: Beat, report: boolean, renewTime = microTime(this.now())): void {
    try {
      this.renew(beat, renewTime);
      if (report || this.now() - beat.reportedAt >= this.statusReportMs || this.statusChanged(beat)) this.report(beat);
    } catch (e) {
      // Someone deleted the Lease (it is made again next time) or the Node (nothing to report on).
      if (!(e instanceof ApiError && e.code === 404)) throw e;
      beat.leased = false;
    }
  }

  private renew(beat: Beat, renewTime: string): void {
    if (!beat.leased) {
      // The kubelet's first renewal creates its Lease (a restarted sim finds it there already).
      beat.leased = true;
      const node = this.store.getEntry(NODES, beat.name).obj;
      try {
        this.store.createEntry(LEASES, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: beat.name, namespace: NODE_LEASE_NAMESPACE, ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: beat.name, uid: node.metadata.uid }] },
          spec: { holderIdentity: beat.name, leaseDurationSeconds: Math.round(this.leaseDurationMs / 1000), renewTime },
        }, { namespace: NODE_LEASE_NAMESPACE, lazyText: true });
        return;
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 409)) throw e;
      }
    }
    this.store.renewLease(beat.name, NODE_LEASE_NAMESPACE, renewTime);
  }

  /** The kubelet's view of its conditions differs from what the Node shows (e.g. the node
   *  lifecycle controller marked it Unknown while the kubelet was away). */
  private statusChanged(beat: Beat): boolean {
    const node = this.store.getEntry(NODES, beat.name).obj;
    // Stored objects are never changed in place: the same object as at the last look needs no
    // second one (most renewals, since a Node changes a few times an hour).
    if (node === beat.checked) return false;
    const conds = conditionsOf(node);
    for (const want of CONDITIONS) {
      let status: string | undefined;
      for (const c of conds) if (c.type === want[0]) status = c.status;
      if (status !== want[1]) return true;
    }
    beat.checked = node;
    return false;
  }

  private report(beat: Beat): void {
    const now = this.now();
    const stamp = new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const conds = conditionsOf(this.store.getEntry(NODES, beat.name).obj);
    const conditions = CONDITIONS.map(([type, status, reason, message]) => {
      const was = conds.find((c) => c.type === type);
      const since = was?.status === status && was.lastTransitionTime ? was.lastTransitionTime : stamp;
      return { type, status, reason, message, lastHeartbeatTime: stamp, lastTransitionTime: since };
    });
    this.store.patchEntry(NODES, beat.name, 'strategic', { status: { conditions } }, { subresource: 'status', lazyText: true });
    beat.reportedAt = now;
  }
}
