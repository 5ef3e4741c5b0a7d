import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { LeaderElector, leaseTimeMs, shouldAcquire, type LeaseApi } from '../../src/kube/leader.js';
import { FakeClock } from '../helpers/fakeclock.js';
import { recordingLogger, type LogEntry } from '../helpers/log.js';

const tick = () => new Promise<void>((r) => setImmediate(r));
async function run(clock: FakeClock, ms: number, step = 100): Promise<void> {
  for (let i = 0; i < ms; i += step) { clock.advance(step); await tick(); await tick(); }
}

/** An in-memory Lease store that behaves like the API server: resourceVersion checks, JSON on the wire. */
class FakeLeases implements LeaseApi {
  lease: Record<string, unknown> | undefined;
  rv = 0;
  failAll = false;
  hang = false;
  writes: string[] = [];
  private err(code: number): Error { return new k8s.ApiException(code, `HTTP ${code}`, '', {}); }
  private gate(): Promise<void> { return this.hang ? new Promise(() => undefined) : Promise.resolve(); }
  async readNamespacedLease(): Promise<k8s.V1Lease> {
    await this.gate(); if (this.failAll) throw this.err(500);
    if (!this.lease) throw this.err(404);
    return JSON.parse(JSON.stringify(this.lease)) as k8s.V1Lease;
  }
  async createNamespacedLease(p: { body: k8s.V1Lease }): Promise<k8s.V1Lease> {
    await this.gate(); if (this.failAll) throw this.err(500);
    if (this.lease) throw this.err(409);
    return this.store(p.body);
  }
  async replaceNamespacedLease(p: { body: k8s.V1Lease }): Promise<k8s.V1Lease> {
    await this.gate(); if (this.failAll) throw this.err(500);
    const cur = (this.lease?.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
    if (p.body.metadata?.resourceVersion !== cur) throw this.err(409);
    return this.store(p.body);
  }
  private store(body: k8s.V1Lease): k8s.V1Lease {
    const wire = JSON.stringify(body);
    this.writes.push(wire);
    const obj = JSON.parse(wire) as { metadata: Record<string, unknown> };
    obj.metadata.resourceVersion = String(++this.rv);
    this.lease = obj;
    return JSON.parse(JSON.stringify(obj)) as k8s.V1Lease;
  }
  holder(): string | undefined { return (this.lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity; }
}

function elector(api: FakeLeases, clock: FakeClock, identity: string, log: string[]) {
  const e = new LeaderElector({
    kubeConfig: new k8s.KubeConfig(), namespace: 'ns', name: 'kto', identity, clock, api,
    leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000,
    onStartedLeading: () => log.push(`${identity} started`),
    onStoppedLeading: () => log.push(`${identity} stopped leader=${String(e.isLeader())}`),
  });
  return e;
}

describe('shouldAcquire', () => {
  const now = 1_000_000;
  const lease = (holder: string | undefined, renewAgoMs: number, dur = 15): k8s.V1Lease => ({
    spec: { holderIdentity: holder, leaseDurationSeconds: dur, renewTime: new k8s.V1MicroTime(now - renewAgoMs) },
  });
  const table: [string, k8s.V1Lease | undefined, number | undefined, boolean][] = [
    ['absent lease is acquired', undefined, undefined, true],
    ['released lease (no holder) is acquired at once', lease('', 0), undefined, true],
    ['our own lease is kept', lease('me', 0), undefined, true],
    ['a fresh lease of another is not taken', lease('other', 5_000), undefined, false],
    ['an expired lease of another is taken', lease('other', 16_000), undefined, true],
    ['exactly at expiry is not yet taken', lease('other', 15_000), undefined, false],
    ['observed time wins over a skewed renewTime', lease('other', 60_000), now - 1_000, false],
    ['observed long ago: expired', lease('other', 0), now - 20_000, true],
  ];
  for (const [name, l, observed, want] of table) it(name, () => assert.equal(shouldAcquire(l, 'me', now, observed), want));
  it('reads string and Date lease times', () => {
    assert.equal(leaseTimeMs('2024-01-01T00:00:00.123456Z'), Date.UTC(2024, 0, 1, 0, 0, 0, 123));
    assert.equal(leaseTimeMs(new Date(5)), 5);
    assert.equal(leaseTimeMs(undefined), undefined);
    assert.equal(leaseTimeMs('nope'), undefined);
  });
});

describe('LeaderElector', () => {
  it('creates an absent lease, leads, renews, and writes MicroTime with 6 digits', async () => {
    const api = new FakeLeases(); const clock = new FakeClock(1_700_000_000_000); const log: string[] = [];
    const a = elector(api, clock, 'a', log);
    const ac = new AbortController();
    const done = a.run(ac.signal);
    await run(clock, 500);
    assert.ok(a.isLeader()); assert.deepEqual(log, ['a started']); assert.equal(api.holder(), 'a');
    await run(clock, 10_000);
    assert.ok(api.writes.length >= 5, 'renewed every retry period');
    assert.match(api.writes.at(-1) ?? '', /"renewTime":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"/);
    assert.match(api.writes.at(-1) ?? '', /"acquireTime":"[^"]+\.\d{6}Z"/);
    assert.match(api.writes.at(-1) ?? '', /"leaseTransitions":0/);
    ac.abort(); await done;
    assert.deepEqual(log, ['a started', 'a stopped leader=false']);
  });

  it('a standby waits while the leader renews, and takes over leaseDuration after it dies', async () => {
    const api = new FakeLeases(); const clock = new FakeClock(1_700_000_000_000); const log: string[] = [];
    const a = elector(api, clock, 'a', log); const b = elector(api, clock, 'b', log);
    const acA = new AbortController(); const acB = new AbortController();
    const doneA = a.run(acA.signal); await run(clock, 200);
    const doneB = b.run(acB.signal);
    await run(clock, 60_000);
    assert.ok(a.isLeader()); assert.ok(!b.isLeader());
    acA.abort(); await doneA; // dies without release
    await run(clock, 10_000);
    assert.ok(!b.isLeader(), 'not before the lease expires');
    // b last saw the Lease change at most one jittered retry period (2 s x 2.2) after a died, so
    // it expires by 15 + 4.4 s and b looks again within 4.4 s more: b leads by 23.8 s after the
    // death, whatever the jitter (12 s here left that to chance).
    await run(clock, 14_000);
    assert.ok(b.isLeader()); assert.equal(api.holder(), 'b');
    assert.match(api.writes.at(-1) ?? '', /"leaseTransitions":1/);
    acB.abort(); await doneB;
  });

  it('after losing the lease, run() again campaigns: it waits while another holds it, and leads once that one stops renewing', async () => {
    const api = new FakeLeases(); const clock = new FakeClock(1_700_000_000_000); const log: string[] = [];
    const a = elector(api, clock, 'a', log);
    const first = a.run(new AbortController().signal); await run(clock, 200);
    assert.ok(a.isLeader());
    const l = JSON.parse(JSON.stringify(api.lease)) as { spec: Record<string, unknown> };
    api.lease = { ...l, spec: { ...l.spec, holderIdentity: 'c' }, metadata: { name: 'kto', namespace: 'ns', resourceVersion: String(++api.rv) } };
    await run(clock, 2_500);
    await first;
    assert.deepEqual(log, ['a started', 'a stopped leader=false']);

    const ac = new AbortController();
    const again = a.run(ac.signal);
    await run(clock, 10_000);
    assert.ok(!a.isLeader(), 'c holds a fresh lease: a waits');
    assert.equal(api.holder(), 'c');
    await run(clock, 14_000); // c never renews: its lease runs out 15 s after a saw it change
    assert.ok(a.isLeader());
    assert.equal(api.holder(), 'a');
    assert.deepEqual(log, ['a started', 'a stopped leader=false', 'a started']);
    ac.abort(); await again;
  });

  it('release() hands over at once', async () => {
    const api = new FakeLeases(); const clock = new FakeClock(1_700_000_000_000); const log: string[] = [];
    const a = elector(api, clock, 'a', log); const b = elector(api, clock, 'b', log);
    const acA = new AbortController(); const acB = new AbortController();
    const doneA = a.run(acA.signal); await run(clock, 200);
    const doneB = b.run(acB.signal); await run(clock, 5_000);
    acA.abort(); await doneA; await a.release();
    assert.equal(api.holder(), '');
    await run(clock, 5_000);
    assert.ok(b.isLeader(), 'within a couple of retry periods');
    acB.abort(); await doneB;
  });

  it('renewals failing for renewDeadline: stops leading, isLeader false first, run returns', async () => {
    const api = new FakeLeases(); const clock = new FakeClock(1_700_000_000_000); const log: string[] = [];
    const a = elector(api, clock, 'a', log);
    const done = a.run(new AbortController().signal); await run(clock, 200);
    assert.ok(a.isLeader());
    api.failAll = true;
    await run(clock, 9_000);
    assert.ok(a.isLeader(), 'still within the deadline');
    await run(clock, 1_500);
    assert.ok(!a.isLeader());
    assert.deepEqual(log, ['a started', 'a stopped leader=false']);
    await done;
  });

  it('a hung renewal cannot hold run() past the deadline', async () => {
    const api = new FakeLeases(); const clock = new FakeClock(1_700_000_000_000); const log: string[] = [];
    const a = elector(api, clock, 'a', log);
    const done = a.run(new AbortController().signal); await run(clock, 200);
    api.hang = true;
    await run(clock, 11_000);
    assert.ok(!a.isLeader());
    await done;
  });

  it('another holder showing up stops the leader at the next renewal', async () => {
    const api = new FakeLeases(); const clock = new FakeClock(1_700_000_000_000); const log: string[] = [];
    const a = elector(api, clock, 'a', log);
    const done = a.run(new AbortController().signal); await run(clock, 200);
    const l = JSON.parse(JSON.stringify(api.lease)) as { spec: { holderIdentity: string } };
    l.spec.holderIdentity = 'c';
    api.lease = { ...l, metadata: { name: 'kto', namespace: 'ns', resourceVersion: String(++api.rv) } };
    await run(clock, 2_500);
    assert.ok(!a.isLeader());
    await done;
  });

  it('two replicas racing for an expired lease: only one wins', async () => {
    for (let trial = 0; trial < 20; trial++) {
      const api = new FakeLeases(); const clock = new FakeClock(1_700_000_000_000); const log: string[] = [];
      const es = ['a', 'b', 'c'].map((id) => elector(api, clock, id, log));
      const acs = es.map(() => new AbortController());
      const dones = es.map((e, i) => e.run((acs[i] as AbortController).signal));
      for (let i = 0; i < 100; i++) {
        await run(clock, 500);
        assert.ok(es.filter((e) => e.isLeader()).length <= 1, 'never two leaders');
      }
      assert.equal(es.filter((e) => e.isLeader()).length, 1);
      acs.forEach((a) => a.abort()); await Promise.all(dones);
    }
  });

  it('logs at the level it deserves: leadership lost and failed renewals at warn, a clean hand-over at info', async () => {
    const api = new FakeLeases(); const clock = new FakeClock(1_700_000_000_000); const logs: LogEntry[] = [];
    const make = (identity: string) => new LeaderElector({
      kubeConfig: new k8s.KubeConfig(), namespace: 'ns', name: 'kto', identity, clock, api,
      leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000,
      onStartedLeading: () => undefined, onStoppedLeading: () => undefined,
      log: recordingLogger((e) => logs.push(e)),
    });
    const a = make('a');
    const done = a.run(new AbortController().signal); await run(clock, 200);
    assert.deepEqual(logs.map((l) => [l.level, l.msg]), [['info', 'leader election: became leader']]);
    api.failAll = true;
    await run(clock, 11_000);
    await done;
    const failed = logs.filter((l) => /update|read/.test(l.msg));
    assert.ok(failed.length > 0 && failed.every((l) => l.level === 'warn' && l.fields['err'] instanceof Error), JSON.stringify(failed));
    assert.deepEqual(logs.filter((l) => /stopped leading/.test(l.msg)).map((l) => [l.level, l.fields['reason']]), [['warn', 'renew deadline exceeded']]);

    logs.length = 0;
    api.failAll = false;
    const b = make('b');
    const ac = new AbortController();
    const doneB = b.run(ac.signal); await run(clock, 20_000);
    assert.ok(b.isLeader());
    ac.abort(); await doneB; await b.release();
    assert.deepEqual(logs.filter((l) => /stopped leading/.test(l.msg)).map((l) => l.level), ['info'], 'shutting down is routine');
  });
});
