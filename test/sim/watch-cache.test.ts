// The embedded API server's watch cache as a real one behaves: events offered only to the
// watchers that can match them, each event encoded once per format, the watch window (410 for a
// resourceVersion older than the cache), boolean query parameters read as the real server reads
// them, and a name-pinned list served as a single-key lookup.

import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { ApiServer, LEASES, NODES, Store, type KubeObject } from '../../src/sim/apiserver/index.js';
import { POLICIES, testPolicyCRD } from '../../src/sim/apiserver/fixtures.js';
import { type StoredEvent, type Watcher, WatchHub, deliver } from '../../src/sim/apiserver/history.js';
import type { ResourceDef } from '../../src/sim/apiserver/registry.js';
import { combine, parseFieldSelector, parseLabelSelector, pinnedName } from '../../src/sim/apiserver/selectors.js';
import { SlotTimer } from '../../src/util/slot-timer.js';
import { CONFIGMAPS, resKey } from '../../src/sim/apiserver/types.js';
import { prng } from '../helpers/prng.js';

const NAMES = ['a', 'b', 'c', 'd'];
const NSS = ['ns1', 'ns2', 'ns3'];
const COLOURS = ['red', 'blue', 'green'];

interface WatchSpec {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

function randomSpec(r: () => number): WatchSpec {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const spec: WatchSpec = {};
  if (r() < 0.4) spec.namespace = pick(NSS);
  const l = r();
  if (l < 0.25) spec.labelSelector = `colour=${pick(COLOURS)}`;
  else if (l < 0.4) spec.labelSelector = `colour in (${pick(COLOURS)},${pick(COLOURS)})`;
  else if (l < 0.5) spec.labelSelector = '!colour';
  const f = r();
  if (f < 0.35) spec.fieldSelector = `metadata.name=${pick(NAMES)}`;
  else if (f < 0.45) spec.fieldSelector = `metadata.name=${pick(NAMES)},metadata.namespace=${pick(NSS)}`;
  else if (f < 0.55) spec.fieldSelector = `metadata.name!=${pick(NAMES)}`;
  return spec;
}

/** What a watcher should see, worked out by brute force from every event: no index involved. */
function expected(spec: WatchSpec, events: StoredEvent[]): string[] {
  const m = combine(parseLabelSelector(spec.labelSelector), parseFieldSelector(spec.fieldSelector));
  const ok = (o: KubeObject | undefined): boolean =>
    o !== undefined && (spec.namespace === undefined || o.metadata.namespace === spec.namespace) && (m ? m(o) : true);
  const out: string[] = [];
  for (const ev of events) {
    const now = ok(ev.obj);
    if (ev.type !== 'MODIFIED') {
      if (now) out.push(`${ev.type} ${ev.key}@${ev.rv}`);
      continue;
    }
    const before = ok(ev.prev);
    if (now && before) out.push(`MODIFIED ${ev.key}@${ev.rv}`);
    else if (now) out.push(`ADDED ${ev.key}@${ev.rv}`);
    else if (before) out.push(`DELETED ${ev.key}@${ev.rv}`);
  }
  return out;
}

describe('watch fan-out', () => {
  test('an event is delivered only to matching watchers (seeded property)', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const r = prng(seed);
      const store = new Store();
      for (const ns of NSS) store.create({ group: '', version: 'v1', resource: 'namespaces' }, { metadata: { name: ns } });
      const specs = Array.from({ length: 12 }, () => randomSpec(r));
      const got = specs.map(() => [] as string[]);
      const startRv = store.resourceVersion;
      specs.forEach((spec, i) => {
        store.watchEntries(CONFIGMAPS, { ...spec, resourceVersion: String(startRv) }, (type, obj) => {
          got[i]?.push(`${type} ${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}@${obj.metadata.resourceVersion ?? ''}`);
        });
      });
      for (let step = 0; step < 60; step++) {
        const name = NAMES[Math.floor(r() * NAMES.length)] ?? 'a';
        const namespace = NSS[Math.floor(r() * NSS.length)] ?? 'ns1';
        const colour = r() < 0.2 ? null : (COLOURS[Math.floor(r() * COLOURS.length)] ?? 'red');
        const exists = store.tryGet(CONFIGMAPS, name, namespace) !== undefined;
        if (!exists) store.create(CONFIGMAPS, { metadata: { name, namespace, ...(colour ? { labels: { colour } } : {}) } });
        else if (r() < 0.2) store.delete(CONFIGMAPS, name, namespace);
        else store.patch(CONFIGMAPS, name, 'merge', { metadata: { labels: { colour } } }, { namespace });
      }
      const events = store.hub.since(resKey(CONFIGMAPS), startRv);
      specs.forEach((spec, i) => assert.deepEqual(got[i], expected(spec, events), `seed ${seed}, watcher ${i}: ${JSON.stringify(spec)}`));
    }
  });

  test('an event is offered only to watchers of its name, its namespace or the whole resource', () => {
    const r = prng(7);
    const hub = new WatchHub(100);
    const res = 'g/v/things';
    const offered = new Map<Watcher, string[]>();
    const watchers: Watcher[] = [];
    for (let i = 0; i < 40; i++) {
      const w: Watcher = { def: {} as ResourceDef, sink: () => undefined };
      if (r() < 0.5) w.namespace = NSS[Math.floor(r() * NSS.length)] ?? 'ns1';
      if (r() < 0.5) w.name = NAMES[Math.floor(r() * NAMES.length)] ?? 'a';
      w.match = (o) => {
        offered.get(w)?.push(`${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`);
        return true;
      };
      offered.set(w, []);
      watchers.push(w);
      hub.add(res, w);
    }
    for (let rv = 1; rv <= 200; rv++) {
      const namespace = NSS[Math.floor(r() * NSS.length)] ?? 'ns1';
      const name = NAMES[Math.floor(r() * NAMES.length)] ?? 'a';
      const obj: KubeObject = { metadata: { name, namespace, resourceVersion: String(rv) } };
      hub.push({ rv, res, key: `${namespace}/${name}`, type: 'MODIFIED', obj, json: '{}', prev: obj });
    }
    for (const w of watchers) {
      for (const key of offered.get(w) ?? []) {
        const [ns, name] = key.split('/');
        assert.ok(w.namespace === undefined || w.namespace === ns, `watcher of namespace ${w.namespace ?? ''} was offered ${key}`);
        assert.ok(w.name === undefined || w.name === name, `watcher of name ${w.name ?? ''} was offered ${key}`);
      }
    }
  });

  test('history is kept as the real cacher keeps it: 75 s of events, at least 100, at most the capacity', () => {
    let now = 0;
    const res = 'g/v/things';
    const event = (rv: number): StoredEvent => {
      const obj: KubeObject = { metadata: { name: `o${rv % 7}`, namespace: 'ns', resourceVersion: String(rv) } };
      return { rv, res, key: `ns/${obj.metadata.name ?? ''}`, type: 'MODIFIED', obj };
    };
    const tooOld = (hub: WatchHub, after: number): boolean => {
      try {
        hub.since(res, after);
        return false;
      } catch (e) {
        return (e as { code?: number }).code === 410;
      }
    };
    const hub = new WatchHub({ capacity: 1000, now: () => now });
    for (let rv = 1; rv <= 200; rv++) hub.push(event(rv));
    assert.equal(hub.since(res, 0).length, 200, 'all fresh: all kept');
    now = 76_000;
    hub.push(event(201));
    assert.equal(hub.since(res, 101).length, 100, 'the stale ones dropped down to the lower bound');
    assert.ok(tooOld(hub, 100), 'a watch from before them is too old (410)');
    now = 10 * 60_000;
    for (let rv = 202; rv <= 250; rv++) hub.push(event(rv));
    assert.equal(hub.since(res, 150).length, 100, 'never fewer than 100, however old');

    const slow = new WatchHub({ capacity: 1000, now: () => now });
    now = 0;
    for (let rv = 1; rv <= 50; rv++) slow.push(event(rv));
    now = 3_600_000;
    slow.push(event(51));
    assert.equal(slow.since(res, 0).length, 51, 'a resource that changes slowly keeps its few events');

    const small = new WatchHub({ capacity: 150, now: () => 0 });
    for (let rv = 1; rv <= 200; rv++) small.push(event(rv));
    assert.equal(small.since(res, 50).length, 150, 'the capacity still caps a burst');
    assert.ok(tooOld(small, 49));
  });

  test('a name-pinned field selector is what indexes a watcher', () => {
    assert.equal(pinnedName('metadata.name=node-1'), 'node-1');
    assert.equal(pinnedName('spec.x=1, metadata.name==n2'), 'n2');
    assert.equal(pinnedName('metadata.name!=node-1'), undefined);
    assert.equal(pinnedName(undefined), undefined);
  });

  test('an update that changes nothing writes nothing; key order is not a change', () => {
    const store = new Store();
    const cm = store.create(CONFIGMAPS, { metadata: { name: 'same', namespace: 'default', labels: { a: '1', b: '2' } }, data: { x: '1', y: '2' } });
    const rv = store.resourceVersion;
    const again = store.update(CONFIGMAPS, { ...cm, metadata: { ...cm.metadata, labels: { b: '2', a: '1' } }, data: { y: '2', x: '1' } });
    assert.equal(store.resourceVersion, rv, 'no write');
    assert.equal(again.metadata.resourceVersion, cm.metadata.resourceVersion);
    const changed = store.update(CONFIGMAPS, { ...again, data: { y: '2', x: '3' } });
    assert.equal(store.resourceVersion, rv + 1);
    assert.equal(changed.metadata.generation, 2, 'a changed body bumps the generation');
    const relabelled = store.update(CONFIGMAPS, { ...changed, metadata: { ...changed.metadata, labels: { a: '9' } } });
    assert.equal(relabelled.metadata.generation, 2, 'metadata alone does not');
  });

  test('deliver turns a selector change into ADDED or DELETED', () => {
    const seen: string[] = [];
    const w: Watcher = { def: {} as ResourceDef, match: parseLabelSelector('a=1'), sink: (t) => seen.push(t) };
    const o = (a: string): KubeObject => ({ metadata: { name: 'x', labels: { a } } });
    deliver(w, { rv: 1, res: 'r', key: '/x', type: 'MODIFIED', obj: o('1'), json: '', prev: o('2') });
    deliver(w, { rv: 2, res: 'r', key: '/x', type: 'MODIFIED', obj: o('2'), json: '', prev: o('1') });
    assert.deepEqual(seen, ['ADDED', 'DELETED']);
  });
});

describe('watch window, query parameters and single-key lists over HTTP', () => {
  const server = new ApiServer({ bookmarkIntervalMs: 100, historySize: 5 });
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;

  before(async () => {
    await server.start();
    kc = new k8s.KubeConfig();
    kc.loadFromString(server.kubeconfigYaml());
    core = kc.makeApiClient(k8s.CoreV1Api);
  });
  after(async () => {
    await server.stop();
  });

  /** The first `n` lines of a watch stream (or what came in 5 s), then the connection is dropped. */
  async function firstLines(path: string, n: number, headers: Record<string, string> = {}): Promise<Array<{ type: string; object: Record<string, unknown> }>> {
    const ac = new AbortController();
    const giveUp = setTimeout(() => ac.abort(), 5000);
    const r = await fetch(`${server.url}${path}`, { signal: ac.signal, headers: { Authorization: `Bearer ${server.adminToken}`, ...headers } });
    const out: Array<{ type: string; object: Record<string, unknown> }> = [];
    const reader = r.body?.getReader();
    let buf = '';
    while (reader && out.length < n) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done || !value) break;
      buf += Buffer.from(value).toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0 && out.length < n) {
        out.push(JSON.parse(buf.slice(0, i)) as { type: string; object: Record<string, unknown> });
        buf = buf.slice(i + 1);
      }
    }
    clearTimeout(giveUp);
    ac.abort();
    return out;
  }

  test('a watch from resourceVersion 1 on a fresh server is 410 Gone; from the list it is served', async () => {
    const [ev] = await firstLines('/api/v1/nodes?watch=true&resourceVersion=1', 1);
    assert.equal(ev?.type, 'ERROR');
    assert.equal(ev?.object['code'], 410);
    assert.equal(ev?.object['reason'], 'Expired');
    assert.match(String(ev?.object['message']), /^too old resource version: 1 \(\d+\)$/);
    const list = await core.listNode();
    const pending = firstLines(`/api/v1/nodes?watch=true&resourceVersion=${list.metadata?.resourceVersion ?? ''}`, 1);
    await new Promise((r) => setTimeout(r, 50));
    await core.createNode({ body: { metadata: { name: 'w-1' } } });
    const [added] = await pending;
    assert.equal(added?.type, 'ADDED');
  });

  test("each resource has its own window: leases churning do not expire the nodes' history", async () => {
    const list = await core.listNode();
    const from = list.metadata?.resourceVersion ?? '';
    await core.createNode({ body: { metadata: { name: 'w-2' } } });
    server.store.create(LEASES, { metadata: { name: 'hb', namespace: 'kube-node-lease' }, spec: { holderIdentity: 'x' } });
    for (let i = 0; i < 20; i++) server.store.patch(LEASES, 'hb', 'merge', { spec: { renewTime: `2026-01-01T00:00:${String(i).padStart(2, '0')}.000000Z` } }, { namespace: 'kube-node-lease' });
    const [ev] = await firstLines(`/api/v1/nodes?watch=true&resourceVersion=${from}`, 1);
    assert.equal(ev?.type, 'ADDED');
    assert.equal((ev?.object['metadata'] as { name: string }).name, 'w-2');
    // Six more node writes push w-2's event out of a 5-event window.
    for (let i = 0; i < 6; i++) server.store.patch(NODES, 'w-2', 'merge', { metadata: { labels: { i: String(i) } } });
    const [expired] = await firstLines(`/api/v1/nodes?watch=true&resourceVersion=${from}`, 1);
    assert.equal(expired?.type, 'ERROR');
    assert.equal(expired?.object['code'], 410);
  });

  test("a custom resource's cache starts with its CRD", async () => {
    const before = server.store.resourceVersion;
    server.store.create({ group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions' }, testPolicyCRD());
    const [ev] = await firstLines(`/apis/${POLICIES.group}/${POLICIES.version}/${POLICIES.resource}?watch=1&resourceVersion=${before}`, 1);
    assert.equal(ev?.type, 'ERROR');
    assert.equal(ev?.object['code'], 410);
  });

  test('boolean query parameters: true unless "0" or "false" in any case', async () => {
    for (const v of ['true', 'True', 'TRUE', '1', 'yes', '', 'anything']) {
      const [ev] = await firstLines(`/api/v1/namespaces?watch=${v}`, 1);
      assert.equal(ev?.type, 'ADDED', `watch=${v} is a watch`);
    }
    const [bare] = await firstLines('/api/v1/namespaces?watch', 1);
    assert.equal(bare?.type, 'ADDED', 'a bare ?watch is a watch');
    for (const v of ['false', 'False', 'FALSE', '0']) {
      const r = await fetch(`${server.url}/api/v1/namespaces?watch=${v}`, { headers: { Authorization: `Bearer ${server.adminToken}` } });
      const body = (await r.json()) as { kind: string };
      assert.equal(body.kind, 'NamespaceList', `watch=${v} is a list`);
    }
    const lines = await firstLines('/api/v1/namespaces?watch=1&allowWatchBookmarks=True&resourceVersion=0', 5);
    assert.equal(lines.at(-1)?.type, 'BOOKMARK', 'allowWatchBookmarks=True asks for bookmarks');
  });

  test('a list with fieldSelector=metadata.name=X returns that object alone', async () => {
    const one = await core.listNode({ fieldSelector: 'metadata.name=w-1' });
    assert.deepEqual(one.items.map((n) => n.metadata?.name), ['w-1']);
    const none = await core.listNode({ fieldSelector: 'metadata.name=w-1', labelSelector: 'missing=yes' });
    assert.equal(none.items.length, 0);
    const ghost = await core.listNode({ fieldSelector: 'metadata.name=ghost' });
    assert.equal(ghost.items.length, 0);
    assert.equal(ghost.metadata?.resourceVersion, String(server.store.resourceVersion));
  });

  test('an event is encoded once per format, whatever the number of watchers', async () => {
    const accept = { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' };
    const watches = [
      firstLines('/api/v1/nodes?watch=1&fieldSelector=metadata.name%3Dw-3', 2),
      firstLines('/api/v1/nodes?watch=1&resourceVersion=0', 4),
      firstLines('/api/v1/nodes?watch=1&resourceVersion=0', 4),
      firstLines('/api/v1/nodes?watch=1&resourceVersion=0', 4, accept),
    ];
    await new Promise((r) => setTimeout(r, 100));
    // Watching last, in-process: sees what the HTTP watchers encoded for each event.
    const frames: string[][] = [];
    const stop = server.store.watchEntries(NODES, { resourceVersion: String(server.store.resourceVersion) }, (_t, _o, _j, ev) => frames.push([...(ev?.frames?.keys() ?? [])].sort()));
    server.store.create(NODES, { metadata: { name: 'w-3' } });
    server.store.patch(NODES, 'w-3', 'merge', { metadata: { labels: { x: '1' } } });
    stop();
    const got = await Promise.all(watches);
    assert.equal(got[0]?.[1]?.type, 'MODIFIED');
    // Three JSON watchers and one Table watcher: one encoding of each kind per event.
    assert.deepEqual(frames, [['json v1 ADDED', 'table v1  ADDED'], ['json v1 MODIFIED', 'table v1  MODIFIED']]);
    assert.equal(got[3]?.[2]?.object['kind'], 'Table');
    const [added] = server.store.hub.since(resKey(NODES), server.store.resourceVersion - 2);
    assert.equal(added?.frames, undefined, 'encodings are not kept in the history');
  });
});

describe('watch deadlines', () => {
  test('a watch ends in the first whole-second tick at or after its timeoutSeconds, never before, and those due in the same second end in the same tick (seeded property)', (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 10_250 });
    const r = prng(14);
    const clock = new SlotTimer(1000);
    const ends: { at: number; endedAt?: number; tick?: number }[] = [];
    let ticks = 0;
    // The test's tick counter runs first in each second: a counter interval made before the clock's.
    const counter = setInterval(() => ticks++, 1000);
    const cancelled: number[] = [];
    for (let i = 0; i < 200; i++) {
      const e: { at: number; endedAt?: number; tick?: number } = { at: 10_250 + Math.floor(r() * 20_000) };
      ends.push(e);
      const cancel = clock.at(e.at, () => {
        assert.equal(e.endedAt, undefined, 'ended twice');
        e.endedAt = Date.now();
        e.tick = ticks;
      });
      if (i % 10 === 0) {
        cancel();
        cancel(); // twice: a no-op
        cancelled.push(i);
      }
    }
    for (let now = 10_250; now < 33_000; now += 50) t.mock.timers.tick(50);
    clearInterval(counter);
    for (const [i, e] of ends.entries()) {
      if (cancelled.includes(i)) {
        assert.equal(e.endedAt, undefined, `cancelled deadline ${i} ended`);
        continue;
      }
      assert.ok(e.endedAt !== undefined, `deadline ${i} (${e.at}) never ended`);
      assert.ok(e.endedAt >= e.at, `deadline ${i} ended at ${e.endedAt}, before ${e.at}`);
      assert.ok(e.endedAt < e.at + 2000, `deadline ${i} ended at ${e.endedAt}, 2 s after ${e.at}`);
    }
    const bySecond = new Map<number, Set<number | undefined>>();
    for (const [i, e] of ends.entries()) {
      if (cancelled.includes(i)) continue;
      const second = Math.ceil(e.at / 1000);
      bySecond.set(second, (bySecond.get(second) ?? new Set()).add(e.tick));
    }
    for (const [second, inTicks] of bySecond) assert.equal(inTicks.size, 1, `the deadlines of second ${second} ended in ${inTicks.size} ticks`);
  });

  test('a callback cancelled by another of the same tick does not run, and later ones still do', (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 5_000 });
    const clock = new SlotTimer(1000);
    const ran: string[] = [];
    // As a watch's end cancels its other timers: the first of the slot cancels the second.
    let cancelSecond = (): void => undefined;
    clock.at(5_500, () => {
      ran.push('first');
      cancelSecond();
    });
    cancelSecond = clock.at(5_600, () => ran.push('second'));
    t.mock.timers.tick(1000);
    assert.deepEqual(ran, ['first']);
    // A callback added after it runs in its own slot.
    clock.at(7_200, () => ran.push('third'));
    t.mock.timers.tick(2000);
    assert.deepEqual(ran, ['first', 'third']);
  });
});
