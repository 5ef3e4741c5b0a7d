// Kubelet heartbeats in the embedded cluster, as a real kubelet sends them: a Lease per node in
// kube-node-lease renewed every interval, the Node status written only on change or every
// report period, and a node lifecycle controller that turns a node whose Lease went quiet
// Unknown. Driven by a fake clock and explicit ticks (no wall-clock assertions), plus one run
// of the whole cluster through the real client-node.

import { strict as assert } from 'node:assert';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { LEASES, NODES, Store } from '../../src/sim/apiserver/index.js';
import { NODE_LEASE_NAMESPACE, NodeHeartbeats, microTime } from '../../src/sim/heartbeat.js';
import { NodeLifecycleController } from '../../src/sim/lifecycle.js';
import { simNodeObject } from '../../src/sim/nodes.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { waitFor } from '../helpers/rollout.js';
import { adminKubeConfig } from '../../src/sim/kubeconfig.js';

type Cond = { type: string; status: string; reason?: string; lastHeartbeatTime?: string; lastTransitionTime?: string };

const conditions = (store: Store, name: string): Cond[] => (store.get<{ status: { conditions: Cond[] } }>(NODES, name).status.conditions);
const ready = (store: Store, name: string): string | undefined => conditions(store, name).find((c) => c.type === 'Ready')?.status;
const renewTime = (store: Store, name: string): string | undefined => store.tryGet<{ spec: { renewTime?: string } }>(LEASES, name, NODE_LEASE_NAMESPACE)?.spec.renewTime;

function setup(names: string[]) {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const clock = { now: () => now, advance: (ms: number) => (now += ms) };
  const store = new Store();
  const up = new Map(names.map((n) => [n, true]));
  names.forEach((n, i) => store.create(NODES, simNodeObject(n, i, 'v1.31.6')));
  const hb = new NodeHeartbeats({ store, leaseDurationMs: 40_000, now: clock.now, timer: false });
  for (const n of names) hb.add(n, () => up.get(n) === true);
  /** One full renew interval, tick by tick. */
  const interval = (): void => {
    for (let i = 0; i < hb.slices; i++) {
      clock.advance(hb.tickMs);
      hb.tick();
    }
  };
  return { store, clock, up, hb, interval };
}

describe('node heartbeats', () => {
  test('every node holds a Lease in kube-node-lease, renewed once per 10 s interval', () => {
    const { store, clock, interval, hb } = setup(['n1', 'n2', 'n3']);
    assert.equal(hb.tickMs * hb.slices, 10_000, 'a quarter of the 40 s lease duration');
    const lease = store.get<{ metadata: { ownerReferences: Array<{ kind: string; name: string; uid: string }>; generation?: number }; spec: Record<string, unknown> }>(LEASES, 'n2', NODE_LEASE_NAMESPACE);
    assert.equal(lease.spec['holderIdentity'], 'n2');
    assert.equal(lease.spec['leaseDurationSeconds'], 40);
    assert.equal(lease.metadata.ownerReferences[0]?.kind, 'Node');
    assert.equal(lease.metadata.ownerReferences[0]?.uid, store.get(NODES, 'n2').metadata.uid);
    assert.match(String(lease.spec['renewTime']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'a MicroTime');
    const before = ['n1', 'n2', 'n3'].map((n) => renewTime(store, n));
    const rv = store.resourceVersion;
    interval();
    const afterOne = ['n1', 'n2', 'n3'].map((n) => renewTime(store, n));
    // As on a real server, whose Lease strategy sets no generation, renewed or not.
    assert.equal(lease.metadata.generation, undefined);
    assert.equal(store.get<{ metadata: { generation?: number } }>(LEASES, 'n2', NODE_LEASE_NAMESPACE).metadata.generation, undefined);
    afterOne.forEach((t, i) => assert.ok(t !== undefined && t > (before[i] ?? ''), `n${i + 1} renewed`));
    assert.equal(store.resourceVersion - rv, 3, 'one renewal each, nothing else written');
    assert.ok(afterOne.every((t) => Date.parse(t ?? '') <= clock.now()));
  });

  test('renewals are spread over the interval, not all at once', () => {
    const names = Array.from({ length: 100 }, (_, i) => `node-${i}`);
    const { store, hb, clock } = setup(names);
    const writes: number[] = [];
    for (let i = 0; i < hb.slices; i++) {
      const rv = store.resourceVersion;
      clock.advance(hb.tickMs);
      hb.tick();
      writes.push(store.resourceVersion - rv);
    }
    assert.equal(writes.reduce((a, b) => a + b, 0), 100);
    assert.ok(Math.max(...writes) <= Math.ceil(100 / hb.slices), `at most ${Math.ceil(100 / hb.slices)} per slice: ${writes.join(',')}`);
  });

  test('the Node status is written only when it changes or every 5 minutes', () => {
    const { store, clock, interval } = setup(['n1', 'n2']);
    const statusWrites = (): number => store.hub.since('/v1/nodes', rv).length;
    let rv = store.resourceVersion;
    for (let i = 0; i < 6; i++) interval(); // one minute
    assert.equal(statusWrites(), 0, 'an unchanged status is not written every interval');
    rv = store.resourceVersion;
    for (let i = 0; i < 30; i++) interval(); // five more minutes
    const reports = store.hub.since('/v1/nodes', rv);
    assert.deepEqual(reports.map((e) => e.key).sort(), ['/n1', '/n2'], 'each node reported once in the 5 minutes');
    const hb = conditions(store, 'n1').find((c) => c.type === 'Ready');
    assert.ok(Date.parse(hb?.lastHeartbeatTime ?? '') > clock.now() - 6 * 60_000);
    // A change (the lifecycle controller said Unknown) is written back at the next renewal.
    store.patch(NODES, 'n1', 'strategic', { status: { conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown' }] } }, { subresource: 'status' });
    rv = store.resourceVersion;
    interval();
    assert.deepEqual(store.hub.since('/v1/nodes', rv).map((e) => e.key), ['/n1']);
    assert.equal(ready(store, 'n1'), 'True');
  });

  test('a kubelet that (re)starts renews and reports at once; one that is down goes quiet', () => {
    const { store, up, hb, interval } = setup(['n1', 'n2']);
    up.set('n1', false);
    const quiet = renewTime(store, 'n1');
    interval();
    assert.equal(renewTime(store, 'n1'), quiet, 'no renewal while the kubelet is down');
    up.set('n1', true);
    const rv = store.resourceVersion;
    const watched: Array<{ obj: unknown; json: string | undefined }> = [];
    const stop = store.watchEntries(NODES, { resourceVersion: String(rv) }, (_type, obj, json) => watched.push({ obj, json }));
    hb.started('n1');
    stop();
    assert.notEqual(renewTime(store, 'n1'), quiet);
    assert.deepEqual(store.hub.since('/v1/nodes', rv).map((e) => e.key), ['/n1'], 'a restarted kubelet posts its status');
    // The report is stored without its text (no one asked for it yet); read, it is the stored object's.
    const stored = store.getEntry(NODES, 'n1');
    assert.equal(watched.length, 1);
    assert.equal(watched[0]?.obj, stored.obj, 'its watchers are offered the stored object');
    assert.deepEqual(JSON.parse(stored.json), stored.obj);
    assert.equal(ready(store, 'n1'), 'True');
  });

  test('every Node holds the one image list, through its status reports too, and it cannot be changed in place', () => {
    // Registered as the cluster registers them (createEntry keeps the object it is given).
    let now = Date.parse('2026-01-01T00:00:00Z');
    const store = new Store();
    ['n1', 'n2'].forEach((n, i) => store.createEntry(NODES, simNodeObject(n, i, 'v1.31.6')));
    const hb = new NodeHeartbeats({ store, now: () => now, timer: false });
    for (const n of ['n1', 'n2']) hb.add(n, () => true);
    const images = (name: string): unknown => (store.getEntry(NODES, name).obj['status'] as { images: unknown }).images;
    const shared = images('n1');
    assert.ok(Array.isArray(shared) && shared.length > 0);
    const rv = store.resourceVersion;
    now += 10_000;
    hb.started('n1');
    assert.deepEqual(store.hub.since('/v1/nodes', rv).map((e) => e.key), ['/n1'], 'n1 reported its status');
    assert.equal(images('n1'), shared);
    assert.equal(images('n2'), shared);
    assert.throws(() => (shared as Array<{ sizeBytes: number }>)[0]!.sizeBytes++, TypeError);
    assert.match(store.getEntry(NODES, 'n2').json, /"images":\[\{"names":\["registry\.k8s\.io\/kube-proxy@sha256:[0-9a-f]{64}"/);
  });

  test('Lease writes are never offered to watchers of other resources', () => {
    const { store, interval } = setup(['n1', 'n2']);
    let offered = 0;
    const stop = store.watchEntries(NODES, { labelSelector: 'kubernetes.io/os=linux' }, () => offered++);
    const initial = offered;
    for (let i = 0; i < 12; i++) interval();
    stop();
    assert.equal(offered, initial, 'no node events in two minutes of heartbeats');
  });

  test('a renewal stores what a full update of the Lease would, and its watchers see it', () => {
    const { store, clock, hb } = setup(['n1']);
    const seen: Array<{ type: string; renewTime: unknown; rv: string | undefined }> = [];
    const stop = store.watchEntries(LEASES, { namespace: NODE_LEASE_NAMESPACE }, (type, obj) => {
      seen.push({ type, renewTime: (obj['spec'] as { renewTime?: unknown }).renewTime, rv: obj.metadata.resourceVersion });
    });
    const initial = seen.length;
    const before = store.getEntry(LEASES, 'n1', NODE_LEASE_NAMESPACE).obj;
    clock.advance(10_000);
    hb.started('n1');
    stop();
    const renewed = store.getEntry(LEASES, 'n1', NODE_LEASE_NAMESPACE).obj;
    // The same change through the generic update path, on a copy of the old state.
    const other = new Store();
    other.create(NODES, simNodeObject('n1', 0, 'v1.31.6'));
    other.createEntry(LEASES, before, { namespace: NODE_LEASE_NAMESPACE });
    const viaUpdate = other.updateEntry(LEASES, { ...before, metadata: { ...before.metadata, resourceVersion: undefined }, spec: renewed['spec'] }, { namespace: NODE_LEASE_NAMESPACE }).obj;
    const strip = (o: typeof renewed): unknown => ({ ...o, metadata: { ...o.metadata, resourceVersion: undefined, uid: undefined, creationTimestamp: undefined } });
    assert.deepEqual(strip(renewed), strip(viaUpdate));
    assert.ok(Number(renewed.metadata.resourceVersion) > Number(before.metadata.resourceVersion), 'resourceVersion advances');
    assert.deepEqual(seen.slice(initial), [{ type: 'MODIFIED', renewTime: renewTime(store, 'n1'), rv: renewed.metadata.resourceVersion }], 'one MODIFIED event');
    // A renewal's text is made when it is read: it is the stored object's.
    assert.deepEqual(JSON.parse(store.getEntry(LEASES, 'n1', NODE_LEASE_NAMESPACE).json), renewed);
  });
});

describe('node lifecycle controller', () => {
  test('a node whose Lease stops being renewed turns Unknown after the grace period; its kubelet sets it Ready again', () => {
    const { store, clock, up, hb, interval } = setup(['n1', 'n2']);
    const nlc = new NodeLifecycleController({ store, gracePeriodMs: 40_000, monitorPeriodMs: 0, now: clock.now });
    up.set('n2', false);
    for (let i = 0; i < 3; i++) {
      interval();
      nlc.monitor();
    }
    assert.equal(ready(store, 'n2'), 'True', 'within the grace period');
    for (let i = 0; i < 2; i++) {
      interval();
      nlc.monitor();
    }
    assert.equal(ready(store, 'n1'), 'True');
    const conds = conditions(store, 'n2');
    assert.ok(conds.every((c) => c.status === 'Unknown' && c.reason === 'NodeStatusUnknown'), JSON.stringify(conds));
    up.set('n2', true);
    hb.started('n2');
    assert.equal(ready(store, 'n2'), 'True');
    nlc.monitor();
    assert.equal(ready(store, 'n2'), 'True');
    nlc.stop();
  });

  test('it times a Lease by when it saw it change, and gives every node a grace period from its own start', () => {
    const { store, clock } = setup(['n1']);
    // A lease renewed with an old renewTime (a skewed kubelet clock) still counts as seen now.
    store.patch(LEASES, 'n1', 'merge', { spec: { renewTime: microTime(clock.now() - 3_600_000) } }, { namespace: NODE_LEASE_NAMESPACE });
    const nlc = new NodeLifecycleController({ store, gracePeriodMs: 40_000, monitorPeriodMs: 0, now: clock.now });
    store.create(NODES, simNodeObject('lonely', 9, 'v1.31.6'));
    clock.advance(30_000);
    nlc.monitor();
    assert.equal(ready(store, 'n1'), 'True');
    assert.equal(ready(store, 'lonely'), 'True');
    clock.advance(15_000);
    nlc.monitor();
    assert.equal(ready(store, 'n1'), 'Unknown');
    assert.equal(ready(store, 'lonely'), 'Unknown', 'a node that never had a Lease');
    nlc.stop();
  });

  test('it keeps following the Leases when the server reloads its state', async () => {
    const { store, clock, interval } = setup(['n1']);
    const nlc = new NodeLifecycleController({ store, gracePeriodMs: 40_000, monitorPeriodMs: 0, now: clock.now });
    store.load(store.snapshot());
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 6; i++) {
      interval();
      nlc.monitor();
    }
    assert.equal(ready(store, 'n1'), 'True', 'renewals after the reload are seen');
    nlc.stop();
  });
});

describe('heartbeats in a running cluster (client-node over HTTP)', () => {
  let cluster: SimCluster;
  let core: k8s.CoreV1Api;
  let coord: k8s.CoordinationV1Api;
  before(async () => {
    cluster = await SimCluster.start({ nodes: 3, versions: ['v1.31.6'], agents: false, notReadyAfterMs: 800, restartMs: 20 });
    const kc = adminKubeConfig(cluster.server);
    core = kc.makeApiClient(k8s.CoreV1Api);
    coord = kc.makeApiClient(k8s.CoordinationV1Api);
  });
  after(async () => cluster?.stop());

  test('a watch over HTTP receives the renewals, their text made from the stored Lease', async () => {
    const list = await coord.listNamespacedLease({ namespace: 'kube-node-lease' });
    const events: Array<{ type: string; lease: k8s.V1Lease }> = [];
    const req = await new k8s.Watch(adminKubeConfig(cluster.server)).watch(
      '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases',
      { resourceVersion: list.metadata?.resourceVersion, fieldSelector: 'metadata.name=node-01' },
      (type: string, lease: k8s.V1Lease) => events.push({ type, lease }),
      () => undefined,
    );
    try {
      await waitFor('a renewal of node-01 watched', async () => events.some((e) => e.type === 'MODIFIED'));
    } finally {
      req.abort();
    }
    const ev = events.find((e) => e.type === 'MODIFIED');
    assert.ok(ev);
    assert.ok(Number(ev.lease.metadata?.resourceVersion) > Number(list.metadata?.resourceVersion));
    assert.equal(ev.lease.spec?.holderIdentity, 'node-01');
    // Watch hands over the decoded JSON as it came: metav1.MicroTime text.
    assert.match(String(ev.lease.spec?.renewTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  test('one Lease per node; a crash-looping kubelet makes its node NotReady, a good start brings it back', async () => {
    const leases = await coord.listNamespacedLease({ namespace: 'kube-node-lease' });
    assert.deepEqual(leases.items.map((l) => l.spec?.holderIdentity).sort(), ['node-01', 'node-02', 'node-03']);
    const first = leases.items.find((l) => l.metadata?.name === 'node-02')?.spec?.renewTime;
    await waitFor('a renewal', async () => {
      const l = await coord.readNamespacedLease({ name: 'node-02', namespace: 'kube-node-lease' });
      return String(l.spec?.renewTime) !== String(first);
    });
    const kubelet = cluster.kubelets.get('node-02');
    assert.ok(kubelet?.dropinDir);
    const bad = join(kubelet.dropinDir, '50-broken.conf');
    await writeFile(bad, 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nfeatureGates: {NoSuchGate: true}\n');
    await kubelet.restart();
    const readyOf = async (name: string): Promise<string | undefined> => (await core.readNode({ name })).status?.conditions?.find((c) => c.type === 'Ready')?.status;
    await waitFor('node-02 NotReady', async () => (await readyOf('node-02')) === 'Unknown');
    assert.equal(await readyOf('node-01'), 'True');
    await writeFile(bad, 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n');
    await kubelet.restart();
    await waitFor('node-02 Ready again', async () => (await readyOf('node-02')) === 'True');
  });
});

