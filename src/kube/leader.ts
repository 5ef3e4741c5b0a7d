// Leader election on a coordination.k8s.io/v1 Lease, with client-go's leaderelection semantics:
//  - acquire when the Lease is absent (create), held by nobody ('' after a release), held by us,
//    or expired; every write carries the resourceVersion read, so of two replicas racing for
//    the same Lease one gets 409 and loses;
//  - "expired" is judged, as client-go does, from the local time at which we last saw the Lease
//    change, not from its renewTime: another replica's clock may be skewed from ours;
//  - the leader renews every retryPeriod; if no renewal succeeds for renewDeadline, or another
//    holder shows up, it stops at once: isLeader() turns false before onStoppedLeading runs,
//    and a renewal still in flight cannot bring it back. run() then returns, and may be called
//    again to campaign anew.
// After a lost lease the Controller campaigns again in the same process (controller.ts
// campaign()), where controller-runtime exits and lets the Deployment restart the pod. Why:
//  - what exiting buys controller-runtime is a clean slate; here the state that could be stale is
//    small and explicit (the Reconciler's memory), a new term forgets it (becomeLeader), and the
//    writer refuses every write from the moment the term ends, in-flight reconciles included;
//  - the caches stay warm: 5,000 trimmed Nodes are not listed again at the very moment the API
//    server is struggling (the usual reason a lease is lost, for every replica at once), and a
//    single replica is not put into CrashLoopBackOff by a short API outage;
//  - the Controller is a library: tests, the demo and the embedded cluster run several in one
//    process, which one of them must not end.
// MicroTime: client-node 1.4.0 hands Lease times back as strings (it has no deserializer for
// V1MicroTime) and writes a plain Date with millisecond precision, which the API server's
// RFC3339Micro parser rejects; so times are read with leaseTimeMs() and written as V1MicroTime.
import * as k8s from '@kubernetes/client-node';
import { type Clock, realClock, sleep } from '../util/clock.js';
import { httpStatus } from '../util/errors.js';
import { type Logger, silentLogger } from '../log.js';

export type { Clock as TimerClock };

/** The three calls used; CoordinationV1Api satisfies it, tests pass a fake. */
export interface LeaseApi {
  readNamespacedLease(p: { name: string; namespace: string }): Promise<k8s.V1Lease>;
  createNamespacedLease(p: { namespace: string; body: k8s.V1Lease }): Promise<k8s.V1Lease>;
  replaceNamespacedLease(p: { name: string; namespace: string; body: k8s.V1Lease }): Promise<k8s.V1Lease>;
}

export interface LeaderElectorOptions {
  kubeConfig: k8s.KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
  onStartedLeading: () => void;
  /** Called once when leadership ends for any reason (lost, deadline, aborted). */
  onStoppedLeading: () => void;
  onNewLeader?: (identity: string) => void;
  /** Overrides the API client built from kubeConfig (tests). */
  api?: LeaseApi;
  log?: Logger;
}

/** A Lease time (Date, V1MicroTime or the RFC 3339 string client-node returns) in ms. */
export function leaseTimeMs(v: unknown): number | undefined {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v.getTime();
  if (typeof v === 'string' && v !== '') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

/**
 * Whether `identity` may take (or keep) the Lease at `now`: it is absent, unheld, ours, or
 * expired. Expiry counts leaseDurationSeconds from `observedAtMs` (the local time the Lease was
 * last seen to change) when given, else from its renewTime.
 */
export function shouldAcquire(
  lease: k8s.V1Lease | undefined,
  identity: string,
  now: number,
  observedAtMs?: number,
): boolean {
  const spec = lease?.spec;
  if (spec === undefined) return true;
  const holder = spec.holderIdentity ?? '';
  if (holder === '' || holder === identity) return true;
  const from = observedAtMs ?? leaseTimeMs(spec.renewTime) ?? leaseTimeMs(spec.acquireTime);
  if (from === undefined) return true;
  return from + (spec.leaseDurationSeconds ?? 0) * 1000 < now;
}

type Attempt = 'ok' | 'held' | 'error';

export class LeaderElector {
  private readonly api: LeaseApi;
  private readonly o: Required<Pick<LeaderElectorOptions, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>> &
    LeaderElectorOptions;
  private readonly clock: Clock;
  private readonly log: Logger;
  private leading = false;
  private deadlineTimer: unknown;
  private stopRenewing: AbortController | undefined;
  private observedRv: string | undefined;
  private observedAt = 0;
  private observedHolder: string | undefined;

  constructor(opts: LeaderElectorOptions) {
    this.o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...opts };
    if (!(this.o.leaseDurationMs > this.o.renewDeadlineMs && this.o.renewDeadlineMs > this.o.retryPeriodMs)) {
      throw new Error('leader election: need leaseDuration > renewDeadline > retryPeriod');
    }
    this.clock = opts.clock ?? realClock;
    this.log = opts.log ?? silentLogger;
    this.api = opts.api ?? opts.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Campaigns until leader, then renews until the lease is lost or `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    let acquired = false;
    while (!signal.aborted && !acquired) {
      const sentAt = this.clock.now();
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- changed by an abort or the deadline during the await (TypeScript#9998)
      if ((await untilAborted(this.tryAcquireOrRenew(), signal)) === 'ok' && !signal.aborted) {
        this.startLeading(sentAt);
        acquired = true;
      } else {
        await sleep(this.clock, this.o.retryPeriodMs * (1 + Math.random() * 1.2), signal);
      }
    }
    const stop = this.stopRenewing;
    if (!acquired || stop === undefined) return;
    const onAbort = () => this.stopLeading('shutting down');
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (this.leading) {
        await sleep(this.clock, this.o.retryPeriodMs, stop.signal);
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- changed by an abort or the deadline during the await (TypeScript#9998)
        if (!this.leading) break;
        const sentAt = this.clock.now();
        // A hung request must not keep run() from returning once the deadline has fired.
        const r = await untilAborted(this.tryAcquireOrRenew(), stop.signal);
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- changed by an abort or the deadline during the await (TypeScript#9998)
        if (!this.leading) break; // the deadline passed while the request was out
        if (r === 'ok') this.armDeadline(sentAt);
        else if (r === 'held') this.stopLeading(`lease taken by ${this.observedHolder ?? '?'}`);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Hands the Lease over at once on a clean shutdown: no holder, 1 s duration. */
  async release(): Promise<void> {
    this.stopLeading('released');
    try {
      const lease = await this.api.readNamespacedLease({ name: this.o.name, namespace: this.o.namespace });
      if (lease.spec?.holderIdentity !== this.o.identity) return;
      const now = new k8s.V1MicroTime(this.clock.now());
      const spec: k8s.V1LeaseSpec = {
        ...lease.spec,
        holderIdentity: '',
        leaseDurationSeconds: 1,
        renewTime: now,
        acquireTime: now,
      };
      await this.api.replaceNamespacedLease({ name: this.o.name, namespace: this.o.namespace, body: { ...lease, spec } });
    } catch (err) {
      // Best effort: the lease then expires on its own after leaseDuration.
      this.log.warn({ err }, 'leader election: releasing the Lease failed; it expires on its own');
    }
  }

  private startLeading(sentAt: number): void {
    this.leading = true;
    this.stopRenewing = new AbortController();
    this.armDeadline(sentAt);
    this.log.info({ identity: this.o.identity, lease: `${this.o.namespace}/${this.o.name}` }, 'leader election: became leader');
    this.o.onStartedLeading();
  }

  private stopLeading(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    if (this.deadlineTimer !== undefined) this.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    this.stopRenewing?.abort();
    // Handing over on shutdown is routine; anything else is leadership lost while acting.
    if (reason === 'released' || reason === 'shutting down') this.log.info({ reason }, 'leader election: stopped leading');
    else this.log.warn({ reason }, 'leader election: stopped leading');
    this.o.onStoppedLeading();
  }

  /** Leadership ends renewDeadline after the last successful renewal was sent. */
  private armDeadline(sentAt: number): void {
    if (this.deadlineTimer !== undefined) this.clock.clearTimeout(this.deadlineTimer);
    const left = Math.max(0, sentAt + this.o.renewDeadlineMs - this.clock.now());
    this.deadlineTimer = this.clock.setTimeout(() => this.stopLeading('renew deadline exceeded'), left);
  }

  private observe(lease: k8s.V1Lease): void {
    const rv = lease.metadata?.resourceVersion;
    if (rv !== this.observedRv) {
      this.observedRv = rv;
      this.observedAt = this.clock.now();
    }
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder !== this.observedHolder) {
      this.observedHolder = holder;
      if (holder !== '') this.o.onNewLeader?.(holder);
    }
  }

  private async tryAcquireOrRenew(): Promise<Attempt> {
    const { name, namespace, identity } = this.o;
    const durationS = Math.ceil(this.o.leaseDurationMs / 1000);
    let lease: k8s.V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (httpStatus(err) !== 404) return this.failed('read', err);
      const now = new k8s.V1MicroTime(this.clock.now());
      const body: k8s.V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: { holderIdentity: identity, leaseDurationSeconds: durationS, acquireTime: now, renewTime: now, leaseTransitions: 0 },
      };
      try {
        this.observe(await this.api.createNamespacedLease({ namespace, body }));
        return 'ok';
      } catch (e) {
        return this.failed('create', e);
      }
    }
    this.observe(lease);
    if (!shouldAcquire(lease, identity, this.clock.now(), this.observedAt)) return 'held';
    const old = lease.spec ?? {};
    const ours = old.holderIdentity === identity;
    const now = this.clock.now();
    const acquiredMs = ours ? leaseTimeMs(old.acquireTime) ?? now : now;
    const spec: k8s.V1LeaseSpec = {
      ...old,
      holderIdentity: identity,
      leaseDurationSeconds: durationS,
      acquireTime: new k8s.V1MicroTime(acquiredMs),
      renewTime: new k8s.V1MicroTime(now),
      leaseTransitions: (old.leaseTransitions ?? 0) + (ours ? 0 : 1),
    };
    try {
      this.observe(await this.api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec } }));
      return 'ok';
    } catch (err) {
      return this.failed('update', err);
    }
  }

  private failed(op: string, err: unknown): Attempt {
    // 409 on create/update: another replica wrote first; we will see who on the next read.
    const code = httpStatus(err);
    if (code === 409) this.log.debug({ code }, `leader election: ${op} lost a race to another replica`);
    else this.log.warn({ code, err }, `leader election: ${op} of the Lease failed`);
    return 'error';
  }
}

/** `p`, or undefined as soon as `signal` aborts (p keeps running; its result is dropped). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes the request's own rejection on
        reject(e);
      },
    );
  });
}
