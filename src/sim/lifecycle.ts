// A small node lifecycle controller, as kube-controller-manager runs one: it follows the nodes'
// Leases in kube-node-lease, and a node whose Lease has not been renewed for the grace period
// (node-monitor-grace-period) gets its conditions set to Unknown ("Kubelet stopped posting node
// status."). Like the real one it times a Lease by when it saw it change, not by the renewTime
// the kubelet wrote, and gives every node a full grace period from its own start. It never sets
// a node Ready again: the kubelet does that by posting its status when it is back.
// Not modelled: the unreachable taints and evictions that follow.
import type { ObjectStore } from './apiserver/store.js';
import { LEASES, NODES, type KubeObject } from './apiserver/types.js';
import { NODE_LEASE_NAMESPACE } from './heartbeat.js';

export interface NodeLifecycleOptions {
  store: ObjectStore;
  /** node-monitor-grace-period. Default 40 s. */
  gracePeriodMs?: number;
  /** node-monitor-period: how often nodes are checked. Default: an eighth of the grace period,
   *  at most 5 s. 0: no timer; the caller calls monitor() (tests, with their own clock). */
  monitorPeriodMs?: number;
  now?: () => number;
}

type Condition = { type?: string; status?: string };

export class NodeLifecycleController {
  private readonly store: ObjectStore;
  private readonly graceMs: number;
  private readonly now: () => number;
  private readonly started: number;
  /** Node name -> its Lease's last renewTime seen, and when it was seen (local time). */
  private readonly probed = new Map<string, { renewTime: unknown; at: number }>();
  private stopWatch: () => void = () => undefined;
  private stopped = false;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(o: NodeLifecycleOptions) {
    this.store = o.store;
    this.graceMs = o.gracePeriodMs ?? 40_000;
    this.now = o.now ?? Date.now;
    this.started = this.now();
    this.watch();
    const period = o.monitorPeriodMs ?? Math.min(5_000, this.graceMs / 8);
    if (period > 0) this.timer = setInterval(() => this.monitor(), period).unref();
  }

  /** Follows the Leases; a watch the server closed (a restart, a reload of its state) is opened
   *  again once the store is back, as an informer would. */
  private watch(): void {
    // Objects in the sink are the stored ones: read, never kept or changed.
    this.stopWatch = this.store.watchEntries(LEASES, { namespace: NODE_LEASE_NAMESPACE }, (type, obj) => this.leaseEvent(type, obj), () => {
      if (!this.stopped) setImmediate(() => !this.stopped && this.watch());
    });
  }

  stop(): void {
    this.stopped = true;
    this.stopWatch();
    if (this.timer) clearInterval(this.timer);
  }

  private leaseEvent(type: string, lease: KubeObject): void {
    const name = lease.metadata.name ?? '';
    if (type === 'DELETED') {
      this.probed.delete(name);
      return;
    }
    const renewTime = (lease['spec'] as { renewTime?: unknown } | undefined)?.renewTime;
    const p = this.probed.get(name);
    if (!p) this.probed.set(name, { renewTime, at: this.now() });
    else if (p.renewTime !== renewTime) {
      p.renewTime = renewTime;
      p.at = this.now();
    }
  }

  /** One pass over every Node: those silent for longer than the grace period turn Unknown. */
  monitor(): void {
    const now = this.now();
    const table = this.store.listEntries(NODES).items;
    for (const { obj } of table) {
      const name = obj.metadata.name ?? '';
      const seen = Math.max(this.started, this.probed.get(name)?.at ?? 0);
      if (now - seen <= this.graceMs) continue;
      const conds = ((obj['status'] as { conditions?: Condition[] } | undefined)?.conditions ?? []).filter((c) => c.type !== undefined);
      if (conds.find((c) => c.type === 'Ready')?.status === 'Unknown') continue;
      const stamp = new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
      const types = new Set(['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure', ...conds.map((c) => c.type ?? '')]);
      const conditions = [...types].map((type) => {
        const was = conds.find((c) => c.type === type);
        return was
          ? { type, status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: stamp }
          : { type, status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.', lastHeartbeatTime: obj.metadata.creationTimestamp, lastTransitionTime: stamp };
      });
      this.store.patchEntry(NODES, name, 'strategic', { status: { conditions } }, { subresource: 'status', lazyText: true });
    }
  }
}
