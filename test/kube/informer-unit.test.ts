// The informer on its own: the cache-diff functions as tables, then the list/watch loop with a
// fake watch, a fake list and a fake clock (no server, no timers of its own). The same informer
// against the embedded API server over HTTP is test/kube/informer.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { afterWatch, applyEvent, applyList, type Cache, isTooLargeResourceVersion, listWentBack, olderThan } from '../../src/kube/cache-diff.js';
import { type ListRequest, ListWatch, type RelistReason, type WatchFn } from '../../src/kube/informer.js';
import { FakeClock } from '../helpers/fakeclock.js';

interface Obj {
  metadata?: { name?: string; uid?: string; resourceVersion?: string };
  v?: string;
}
const obj = (name: string, rv: string, v = '', uid = `uid-${name}`): Obj => ({ metadata: { name, uid, resourceVersion: rv }, v });
const id = (o: Obj): Obj => o;
const summary = (cs: ReturnType<typeof applyList<Obj, Obj>>): string[] => cs.map((c) => `${c.type} ${c.obj.metadata?.name ?? ''}${c.obj.v ? `=${c.obj.v}` : ''}`);

describe('applyList', () => {
  test('first list: every object added', () => {
    const cache: Cache<Obj> = new Map();
    assert.deepEqual(summary(applyList(cache, [obj('a', '1'), obj('b', '2')], id, false)), ['add a', 'add b']);
  });
  test('again, the same objects: no change; one changed, one gone, one new', () => {
    const cache: Cache<Obj> = new Map();
    applyList(cache, [obj('a', '1'), obj('b', '2')], id, false);
    assert.deepEqual(summary(applyList(cache, [obj('a', '1'), obj('b', '2')], id, false)), []);
    assert.deepEqual(summary(applyList(cache, [obj('a', '5', 'x'), obj('c', '6')], id, false)), ['update a=x', 'add c', 'delete b']);
  });
  test('same name and resourceVersion, another uid (deleted and made again): an update', () => {
    const cache: Cache<Obj> = new Map();
    applyList(cache, [obj('a', '1')], id, false);
    assert.deepEqual(summary(applyList(cache, [obj('a', '1', 'new', 'other')], id, false)), ['update a=new']);
  });
  test('same uid and resourceVersion but another content (an etcd restore reused the number): an update', () => {
    const cache: Cache<Obj> = new Map();
    applyList(cache, [obj('a', '1', 'old')], id, false);
    assert.deepEqual(summary(applyList(cache, [obj('a', '1', 'restored')], id, false)), ['update a=restored']);
    assert.equal(cache.get('a')?.obj.v, 'restored');
  });
  test('all (a history reset): every object handed again', () => {
    const cache: Cache<Obj> = new Map();
    applyList(cache, [obj('a', '1')], id, false);
    assert.deepEqual(summary(applyList(cache, [obj('a', '1')], id, true)), ['update a']);
  });
});

describe('applyEvent', () => {
  const seeded = (): Cache<Obj> => {
    const cache: Cache<Obj> = new Map();
    applyList(cache, [obj('a', '10')], id, false);
    return cache;
  };
  test('ADDED, MODIFIED, DELETED change the cache and move the resourceVersion; BOOKMARK only moves it', () => {
    const cache = seeded();
    const added = applyEvent(cache, 'ADDED', obj('b', '11'), '10', id);
    assert.deepEqual(added.end === undefined && [summary(added.changes), added.resourceVersion], [['add b'], '11']);
    const modified = applyEvent(cache, 'MODIFIED', obj('a', '12', 'x'), '10', id);
    assert.deepEqual(modified.end === undefined && summary(modified.changes), ['update a=x']);
    const deleted = applyEvent(cache, 'DELETED', obj('b', '13'), '10', id);
    assert.deepEqual(deleted.end === undefined && summary(deleted.changes), ['delete b']);
    const bookmark = applyEvent(cache, 'BOOKMARK', { metadata: { resourceVersion: '20' } }, '10', id);
    assert.deepEqual(bookmark.end === undefined && [bookmark.changes, bookmark.resourceVersion], [[], '20']);
    assert.deepEqual([...cache.keys()], ['a']);
  });
  test('an event older than where the watch started: another history', () => {
    const out = applyEvent(seeded(), 'MODIFIED', obj('a', '3'), '10', id);
    assert.equal(out.end, 'reset');
    assert.equal(out.end === 'reset' && out.reset?.reason, 'resource_version_went_back');
  });
  const errors: Array<[string, object, string]> = [
    ['410 Gone: expired', { code: 410, message: 'too old resource version' }, 'gone'],
    ['too large resource version (a cause): another history', { code: 504, message: 'x', details: { causes: [{ reason: 'ResourceVersionTooLarge' }] } }, 'reset'],
    ['too large resource version (older servers: the message)', { code: 504, message: 'Timeout: Too large resource version: 30, current: 2' }, 'reset'],
    ['any other error', { code: 500, message: 'boom' }, 'error'],
  ];
  for (const [name, status, end] of errors) {
    test(`ERROR ${name}`, () => assert.equal(applyEvent(seeded(), 'ERROR', status, '10', id).end, end));
  }
  test('an unknown event type: ignored, resourceVersion kept', () => {
    const out = applyEvent(seeded(), 'SOMETHING', obj('a', '99'), '10', id);
    assert.deepEqual(out.end === undefined && [out.changes, out.resourceVersion], [[], undefined]);
  });
});

describe('relist decisions', () => {
  const cases: Array<[string, Parameters<typeof afterWatch>, RelistReason, boolean]> = [
    ['the server closed a long watch: relist at once', [{ end: 'closed', events: 40 }, false, undefined], 'watch_closed', false],
    ['closed at once without news: back off', [{ end: 'closed', events: 0 }, true, undefined], 'watch_error', true],
    ['watchdog', [{ end: 'watchdog', events: 3 }, false, undefined], 'watchdog', false],
    ['410 after a while: relist at once', [{ end: 'gone', events: 5 }, false, undefined], 'expired', false],
    ['410 on a fresh list at once: back off', [{ end: 'gone', events: 1 }, true, undefined], 'expired', true],
    ['an error: back off', [{ end: 'error', events: 9, err: new Error('x') }, false, undefined], 'watch_error', true],
    ['another history', [{ end: 'reset', events: 2 }, true, { why: 'w', reason: 'too_large_resource_version' }], 'too_large_resource_version', false],
  ];
  for (const [name, args, cause, failed] of cases) {
    test(name, () => {
      const got = afterWatch(...args);
      assert.deepEqual([got.cause, got.failed], [cause, failed]);
    });
  }
  test('resourceVersions are ordered only as integers', () => {
    assert.equal(olderThan('9', '10'), true);
    assert.equal(olderThan('10', '9'), false);
    assert.equal(olderThan('abc', '10'), false);
    assert.equal(olderThan(undefined, '10'), false);
    assert.equal(listWentBack('5', '10')?.reason, 'resource_version_went_back');
    assert.equal(listWentBack('10', '10'), undefined);
  });
  test('isTooLargeResourceVersion', () => {
    assert.equal(isTooLargeResourceVersion({ code: 504, message: 'Too large resource version' }), true);
    assert.equal(isTooLargeResourceVersion({ code: 504, message: 'Timeout' }), false);
    assert.equal(isTooLargeResourceVersion(new Error('x')), false);
  });
});

/** A watch the test drives: each open is recorded, events and the end are sent by hand. */
class FakeWatch {
  readonly opened: Array<{ params: Record<string, unknown>; event: (phase: string, o: unknown) => void; done: (err: unknown) => void; aborted: boolean }> = [];
  readonly fn: WatchFn = (_path, params, onEvent, onDone) => {
    const w = { params, event: onEvent, done: onDone, aborted: false };
    this.opened.push(w);
    return Promise.resolve({ abort: () => void (w.aborted = true) });
  };
  get last() {
    const w = this.opened.at(-1);
    assert.ok(w, 'no watch opened');
    return w;
  }
}

/** A list the test answers: the requests, and what to answer (a function, to fail or change). */
class FakeList {
  readonly requests: ListRequest[] = [];
  answer: (req: ListRequest) => { items: Obj[]; metadata: { resourceVersion: string } } = () => ({ items: [], metadata: { resourceVersion: '1' } });
  readonly fn = (req: ListRequest) => {
    this.requests.push(req);
    try {
      return Promise.resolve(this.answer(req));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

/** The watch open now runs to the harness's timeoutSeconds (450 s), a bookmark at `rv` every 50 s
 *  keeping its watchdog quiet. */
function runToTimeout(h: ReturnType<typeof harness>, rv: string): void {
  for (let t = 0; t < 450_000; t += 50_000) {
    h.clock.advance(50_000);
    h.watch.last.event('BOOKMARK', { metadata: { resourceVersion: rv } });
  }
}

function harness(over: Partial<ConstructorParameters<typeof ListWatch<Obj>>[0]> = {}) {
  const watch = new FakeWatch();
  const list = new FakeList();
  const clock = new FakeClock(1_000_000);
  const seen: string[] = [];
  const relists: RelistReason[] = [];
  const resets: string[] = [];
  const make = () =>
    new ListWatch<Obj>({
      path: '/api/v1/things',
      watch: watch.fn,
      listFn: list.fn,
      clock,
      random: () => 0.5,
      onAdd: (o) => seen.push(`add ${o.metadata?.name ?? ''}`),
      onUpdate: (o) => seen.push(`update ${o.metadata?.name ?? ''}${o.v ? `=${o.v}` : ''}`),
      onDelete: (o) => seen.push(`delete ${o.metadata?.name ?? ''}`),
      onRelist: (r) => relists.push(r),
      onReset: (why) => resets.push(why),
      ...over,
    });
  /** Answers the first list with `items` at `rv`, starts the informer and waits until it watches. */
  const started = async (items: Obj[], rv: string) => {
    list.answer = () => ({ items, metadata: { resourceVersion: rv } });
    const inf = make();
    await inf.synced;
    await flush();
    return inf;
  };
  return { watch, list, clock, seen, relists, resets, make, started };
}

describe('ListWatch with a fake watch and clock', () => {
  test('lists, then watches from the list resourceVersion with the selectors; events reach the handlers', async () => {
    const h = harness({ fieldSelector: 'metadata.name=a' });
    const inf = await h.started([obj('a', '5')], '7');
    assert.deepEqual(h.list.requests, [{ fieldSelector: 'metadata.name=a' }]);
    assert.deepEqual(h.seen, ['add a']);
    assert.equal(h.watch.last.params['resourceVersion'], '7');
    assert.equal(h.watch.last.params['fieldSelector'], 'metadata.name=a');
    assert.equal(h.watch.last.params['timeoutSeconds'], 450);
    assert.deepEqual(inf.health(), { synced: true, fresh: true });
    h.watch.last.event('MODIFIED', obj('a', '8', 'x'));
    assert.deepEqual(h.seen, ['add a', 'update a=x']);
    assert.equal(inf.get('a')?.v, 'x');
    inf.stop();
    await inf.closed;
    assert.equal(h.watch.last.aborted, true);
  });

  test('the server closes the watch: a list not older than the last event, told as watch_closed; the next watch resumes', async () => {
    const h = harness();
    const inf = await h.started([obj('a', '5')], '7');
    h.clock.advance(5_000);
    h.watch.last.event('BOOKMARK', { metadata: { resourceVersion: '9' } });
    h.list.answer = () => ({ items: [obj('a', '5')], metadata: { resourceVersion: '9' } });
    h.watch.last.done(null);
    await flush();
    assert.deepEqual(h.list.requests[1], { resourceVersion: '9', resourceVersionMatch: 'NotOlderThan' });
    assert.deepEqual(h.relists, ['watch_closed']);
    assert.deepEqual(h.seen, ['add a'], 'nothing changed: no handler call');
    assert.equal(h.watch.opened.length, 2);
    assert.equal(h.watch.last.params['resourceVersion'], '9');
    inf.stop();
  });

  test('a watch that runs to its timeoutSeconds: the next watch goes on from its resourceVersion without a list, as client-go does', async () => {
    const h = harness();
    const inf = await h.started([obj('a', '5')], '7');
    runToTimeout(h, '7');
    h.watch.last.event('MODIFIED', obj('a', '8', 'x'));
    h.watch.last.done(null);
    await flush();
    assert.equal(h.list.requests.length, 1, 'no list after the first');
    assert.deepEqual(h.relists, []);
    assert.equal(h.watch.opened.length, 2);
    assert.equal(h.watch.last.params['resourceVersion'], '8');
    assert.deepEqual(inf.health(), { synced: true, fresh: true });
    h.watch.last.event('MODIFIED', obj('a', '9', 'y'));
    assert.deepEqual(h.seen, ['add a', 'update a=x', 'update a=y']);
    // That one closes early (a server restart, say): listed again before the next watch.
    h.clock.advance(10_000);
    h.list.answer = () => ({ items: [obj('a', '9', 'y')], metadata: { resourceVersion: '9' } });
    h.watch.last.done(null);
    await flush();
    assert.deepEqual(h.list.requests[1], { resourceVersion: '9', resourceVersionMatch: 'NotOlderThan' });
    assert.deepEqual(h.relists, ['watch_closed']);
    assert.equal(h.watch.opened.length, 3);
    inf.stop();
  });

  test('the change log: the names changed since a mark, in order; a relist logs its differences; a mark older than the log kept is refused', async () => {
    const h = harness({ changeLog: true });
    const inf = await h.started([obj('a', '5'), obj('b', '5')], '7');
    const start = inf.changeMark();
    assert.deepEqual(inf.changesSince(0), ['a', 'b'], 'the first list');
    h.watch.last.event('MODIFIED', obj('a', '8', 'x'));
    h.watch.last.event('MODIFIED', obj('a', '8', 'x')); // the same resourceVersion again: no change
    h.watch.last.event('ADDED', obj('c', '9'));
    h.watch.last.event('DELETED', obj('b', '10'));
    h.watch.last.event('BOOKMARK', { metadata: { resourceVersion: '11' } });
    assert.deepEqual(inf.changesSince(start), ['a', 'c', 'b']);
    const mark = inf.changeMark();
    assert.deepEqual(inf.changesSince(mark), []);
    // The server ends the watch; the relist finds c changed and d new.
    h.list.answer = () => ({ items: [obj('a', '8', 'x'), obj('c', '12', 'y'), obj('d', '12')], metadata: { resourceVersion: '12' } });
    h.watch.last.done(null);
    await flush();
    assert.deepEqual(inf.changesSince(mark), ['c', 'd']);
    // Far more changes than twice the cache: the oldest marks are no longer served.
    for (let i = 0; i < 3000; i++) h.watch.last.event('MODIFIED', obj('a', String(13 + i), `v${i}`));
    assert.equal(inf.changesSince(start), undefined);
    assert.equal(inf.changesSince(inf.changeMark() - 5)?.length, 5);
    assert.equal(inf.changesSince(inf.changeMark() + 1), undefined, 'a mark it never gave');
    inf.stop();
  });

  test('without changeLog, no names are kept: only the current mark is answered', async () => {
    const h = harness();
    const inf = await h.started([obj('a', '5')], '7');
    const mark = inf.changeMark();
    assert.deepEqual(inf.changesSince(mark), []);
    h.watch.last.event('MODIFIED', obj('a', '8', 'x'));
    assert.equal(inf.changesSince(mark), undefined);
    assert.deepEqual(inf.changesSince(inf.changeMark()), []);
    inf.stop();
  });

  test('a restored server already past what was seen: the list succeeds, but an object older than its cached self is another history', async () => {
    const h = harness();
    const inf = await h.started([obj('a', '5'), obj('b', '6')], '7');
    h.watch.last.event('MODIFIED', obj('a', '20', 'x'));
    h.watch.last.event('BOOKMARK', { metadata: { resourceVersion: '25' } });
    // The restore took the server back to 7; it wrote on to 30 before this list (NotOlderThan 25
    // is answered), but `a` is as it was at 5.
    h.list.answer = () => ({ items: [obj('a', '5'), obj('b', '6')], metadata: { resourceVersion: '30' } });
    h.watch.last.done(null);
    await flush();
    assert.deepEqual(h.list.requests[1], { resourceVersion: '25', resourceVersionMatch: 'NotOlderThan' });
    assert.equal(h.resets.length, 1, 'told as another history');
    assert.match(h.resets[0] ?? '', /a at resourceVersion 5 is older than its 20/);
    assert.deepEqual(h.relists, ['resource_version_went_back']);
    assert.deepEqual(h.seen.slice(-2), ['update a', 'update b'], 'every object handed again');
    assert.equal(inf.get('a')?.v, '');
    inf.stop();
  });

  test('a watch event older than the cached object (same uid) ends the watch as another history; a new object of the same name (another uid) does not', async () => {
    const h = harness();
    const inf = await h.started([obj('a', '50'), obj('b', '40')], '50');
    h.watch.last.event('MODIFIED', obj('b', '60', 'new', 'uid-b2'));
    assert.equal(inf.get('b')?.v, 'new');
    h.list.answer = () => ({ items: [obj('a', '52', 'y'), obj('b', '60', 'new', 'uid-b2')], metadata: { resourceVersion: '70' } });
    h.watch.last.event('MODIFIED', obj('a', '52', 'y'));
    assert.equal(h.resets.length, 0);
    h.watch.last.event('MODIFIED', obj('a', '51', 'z'));
    await flush();
    assert.equal(h.resets.length, 1);
    assert.equal(inf.get('a')?.v, 'y', 'the stale event is not cached; the relist is');
    inf.stop();
  });

  test('410 Gone on the watch: relisted as expired', async () => {
    const h = harness();
    const inf = h.make();
    await flush();
    h.clock.advance(5_000);
    h.watch.last.event('ERROR', { code: 410, message: 'too old' });
    await flush();
    assert.deepEqual(h.relists, ['expired']);
    inf.stop();
  });

  test('a list that fails: health names it, back-off on the clock, then it recovers', async () => {
    const h = harness();
    h.list.answer = () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { statusCode: undefined });
    };
    const inf = h.make();
    await flush();
    assert.deepEqual(inf.health(), { synced: false, fresh: false, error: 'list failed: connect ECONNREFUSED' });
    assert.deepEqual(h.clock.pending(), [250]);
    h.clock.advance(250);
    await flush();
    assert.equal(h.list.requests.length, 2);
    assert.deepEqual(h.clock.pending(), [500], 'the delay doubles');
    h.list.answer = () => ({ items: [obj('a', '1')], metadata: { resourceVersion: '1' } });
    h.clock.advance(500);
    await inf.synced;
    assert.deepEqual(inf.health(), { synced: true, fresh: true });
    inf.stop();
  });

  test('a watch that ends at once without news backs off instead of spinning', async () => {
    const h = harness();
    const inf = h.make();
    await flush();
    h.watch.last.done(null);
    await flush();
    assert.equal(inf.health().error, 'watch failed: closed at once');
    assert.equal(h.watch.opened.length, 1);
    h.clock.advance(250);
    await flush();
    assert.equal(h.watch.opened.length, 2);
    assert.deepEqual(h.relists, ['watch_error']);
    inf.stop();
  });

  test('watchdog: no event or bookmark in time, the watch is dropped and the cache listed again', async () => {
    const h = harness({ watchdogMs: 60_000 });
    const inf = h.make();
    await flush();
    h.clock.advance(30_000);
    h.watch.last.event('BOOKMARK', { metadata: { resourceVersion: '2' } });
    h.list.answer = () => ({ items: [], metadata: { resourceVersion: '2' } });
    h.clock.advance(59_999);
    assert.equal(h.watch.last.aborted, false, 'each event re-arms the watchdog');
    h.clock.advance(1);
    await flush();
    assert.equal(h.watch.opened[0]?.aborted, true);
    assert.deepEqual(h.relists, ['watchdog']);
    assert.equal(h.watch.opened.length, 2);
    inf.stop();
  });

  test('the server has not reached our resourceVersion: a fresh list, every object handed again, onReset', async () => {
    const h = harness();
    h.list.answer = () => ({ items: [obj('a', '30'), obj('b', '31')], metadata: { resourceVersion: '31' } });
    const inf = h.make();
    await flush();
    h.list.answer = (req) => {
      if (req.resourceVersion !== undefined) throw Object.assign(new Error('too large'), { code: 504, message: 'Timeout: Too large resource version: 31, current: 3' });
      return { items: [obj('a', '2')], metadata: { resourceVersion: '3' } };
    };
    h.clock.advance(5_000);
    h.watch.last.done(null);
    await flush();
    assert.deepEqual(h.list.requests.slice(1), [{ resourceVersion: '31', resourceVersionMatch: 'NotOlderThan' }, {}]);
    assert.deepEqual(h.seen, ['add a', 'add b', 'update a', 'delete b']);
    assert.equal(h.resets.length, 1);
    assert.match(h.resets[0] ?? '', /has not reached resourceVersion 31/);
    assert.deepEqual(h.relists, ['too_large_resource_version']);
    inf.stop();
  });

  test('a watch event going back in resourceVersion: the next list starts over', async () => {
    const h = harness();
    h.list.answer = () => ({ items: [obj('a', '30')], metadata: { resourceVersion: '30' } });
    const inf = h.make();
    await flush();
    h.list.answer = () => ({ items: [obj('a', '4')], metadata: { resourceVersion: '4' } });
    h.watch.last.event('MODIFIED', obj('a', '4'));
    await flush();
    assert.deepEqual(h.list.requests.slice(1), [{}], 'no NotOlderThan: that history is gone');
    assert.deepEqual(h.relists, ['resource_version_went_back']);
    assert.equal(h.resets.length, 1);
    assert.deepEqual(h.seen, ['add a', 'update a']);
    inf.stop();
  });

  test('a handler that throws is logged, and the informer goes on', async () => {
    const h = harness();
    const errors: string[] = [];
    h.list.answer = () => ({ items: [obj('a', '1'), obj('b', '1')], metadata: { resourceVersion: '1' } });
    const inf = h.make();
    const broken = new ListWatch<Obj>({
      path: '/x', watch: h.watch.fn, listFn: h.list.fn, clock: h.clock,
      onAdd: (o) => {
        if (o.metadata?.name === 'a') throw new Error('handler bug');
        errors.push(`saw ${o.metadata?.name ?? ''}`);
      },
      log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (_f, msg) => errors.push(msg) },
    });
    await broken.synced;
    assert.deepEqual(errors, ['informer: event handler threw', 'saw b']);
    broken.stop();
    inf.stop();
  });

  test('stop before the first list: synced rejects, nothing more is asked', async () => {
    const h = harness();
    h.list.answer = () => {
      throw new Error('down');
    };
    const inf = h.make();
    inf.stop();
    await assert.rejects(inf.synced, /stopped/);
    await inf.closed;
    h.clock.advance(60_000);
    await flush();
    assert.equal(h.list.requests.length, 1);
  });
});

describe('ListWatch with watchList: the streaming list (KEP-3157)', () => {
  const end = (rv: string) => ({ metadata: { resourceVersion: rv, annotations: { 'k8s.io/initial-events-end': 'true' } } });
  /** Starts the informer and syncs it with one streaming list: `a` at 5, the state at 9. */
  const streamed = async (h: ReturnType<typeof harness>): Promise<ListWatch<Obj>> => {
    const inf = h.make();
    await flush();
    h.watch.last.event('ADDED', obj('a', '5'));
    h.watch.last.event('BOOKMARK', end('9'));
    await inf.synced;
    return inf;
  };

  test('one request: the initial events are cached at the end bookmark, then the same watch goes on; no list', async () => {
    const h = harness({ watchList: true, fieldSelector: 'metadata.name=a' });
    const inf = h.make();
    let synced = false;
    void inf.synced.then(() => (synced = true));
    await flush();
    assert.equal(h.watch.opened.length, 1);
    const p = h.watch.last.params;
    assert.deepEqual(
      [p['sendInitialEvents'], p['resourceVersionMatch'], p['allowWatchBookmarks'], p['resourceVersion'], p['fieldSelector']],
      [true, 'NotOlderThan', true, undefined, 'metadata.name=a'],
    );
    h.watch.last.event('ADDED', obj('a', '5'));
    h.watch.last.event('ADDED', obj('b', '6'));
    h.watch.last.event('BOOKMARK', { metadata: { resourceVersion: '6' } });
    await flush();
    assert.deepEqual([synced, h.seen, inf.health().synced], [false, [], false], 'nothing is cached before the end bookmark');
    h.watch.last.event('BOOKMARK', end('9'));
    await flush();
    assert.equal(synced, true);
    assert.deepEqual(h.seen, ['add a', 'add b']);
    assert.deepEqual(inf.health(), { synced: true, fresh: true });
    h.watch.last.event('MODIFIED', obj('a', '10', 'x'));
    assert.deepEqual(h.seen, ['add a', 'add b', 'update a=x']);
    assert.deepEqual([h.list.requests.length, h.watch.opened.length, h.relists], [0, 1, []]);
    inf.stop();
    await inf.closed;
  });

  test('when that watch ends, the next round is a list from the last resourceVersion, as without watchList', async () => {
    const h = harness({ watchList: true });
    const inf = await streamed(h);
    h.clock.advance(5_000);
    h.list.answer = () => ({ items: [obj('a', '5')], metadata: { resourceVersion: '9' } });
    h.watch.last.done(null);
    await flush();
    assert.deepEqual(h.list.requests, [{ resourceVersion: '9', resourceVersionMatch: 'NotOlderThan' }]);
    assert.deepEqual(h.relists, ['watch_closed']);
    assert.equal(h.watch.last.params['sendInitialEvents'], undefined);
    inf.stop();
  });

  test('when it runs to its timeoutSeconds, the next watch goes on from its resourceVersion: no list, no streaming list', async () => {
    const h = harness({ watchList: true });
    const inf = await streamed(h);
    runToTimeout(h, '9');
    h.watch.last.done(null);
    await flush();
    assert.deepEqual(h.list.requests, []);
    assert.deepEqual(h.relists, []);
    assert.equal(h.watch.opened.length, 2);
    assert.equal(h.watch.last.params['resourceVersion'], '9');
    assert.equal(h.watch.last.params['sendInitialEvents'], undefined);
    inf.stop();
  });

  test('a server that refuses it (422, the WatchList gate off) is listed and watched from then on, at once', async () => {
    const h = harness({ watchList: true });
    h.list.answer = () => ({ items: [obj('a', '5')], metadata: { resourceVersion: '7' } });
    const inf = h.make();
    await flush();
    h.watch.last.done(Object.assign(new Error('Unprocessable Entity'), { statusCode: 422 }));
    await flush();
    await inf.synced;
    assert.deepEqual(h.list.requests, [{}]);
    assert.deepEqual(h.seen, ['add a']);
    assert.equal(h.watch.opened.length, 2);
    assert.equal(h.watch.last.params['sendInitialEvents'], undefined);
    assert.equal(h.watch.last.params['resourceVersion'], '7');
    // Later the history is reset: still no streaming list against this server.
    h.list.answer = () => ({ items: [obj('a', '2')], metadata: { resourceVersion: '2' } });
    h.watch.last.event('MODIFIED', obj('a', '3'));
    await flush();
    assert.equal(h.watch.opened.filter((w) => w.params['sendInitialEvents'] !== undefined).length, 1);
    inf.stop();
  });

  test('a watch that ends before the end bookmark is a failed list: nothing cached, back-off, then tried again', async () => {
    const h = harness({ watchList: true });
    const inf = h.make();
    await flush();
    h.watch.last.event('ADDED', obj('a', '5'));
    h.watch.last.done(null);
    await flush();
    assert.deepEqual([h.seen, inf.health().synced], [[], false]);
    assert.match(inf.health().error ?? '', /streaming list failed: .*before its initial-events-end bookmark/);
    assert.equal(h.watch.opened.length, 1, 'backing off');
    h.clock.advance(1_000);
    await flush();
    assert.equal(h.watch.opened.length, 2);
    assert.equal(h.watch.last.params['sendInitialEvents'], true);
    h.watch.last.event('BOOKMARK', end('6'));
    await inf.synced;
    assert.deepEqual(inf.health(), { synced: true, fresh: true });
    assert.equal(h.list.requests.length, 0);
    inf.stop();
  });

  test('after a reset (an event going back), the next sync is a streaming list of the current state, every object handed again', async () => {
    const h = harness({ watchList: true });
    const inf = h.make();
    await flush();
    h.watch.last.event('ADDED', obj('a', '30'));
    h.watch.last.event('ADDED', obj('b', '31'));
    h.watch.last.event('BOOKMARK', end('31'));
    await inf.synced;
    h.watch.last.event('MODIFIED', obj('a', '4'));
    await flush();
    assert.equal(h.watch.opened.length, 2);
    assert.deepEqual([h.watch.last.params['sendInitialEvents'], h.watch.last.params['resourceVersion']], [true, undefined]);
    h.watch.last.event('ADDED', obj('a', '4'));
    h.watch.last.event('BOOKMARK', end('4'));
    await flush();
    assert.deepEqual(h.seen, ['add a', 'add b', 'update a', 'delete b']);
    assert.deepEqual(h.relists, ['resource_version_went_back']);
    assert.equal(h.resets.length, 1);
    assert.equal(h.list.requests.length, 0);
    inf.stop();
  });
});
