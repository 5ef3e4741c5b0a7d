import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkQueue, type WorkerResult } from '../../src/controller/queue.js';
import { TerminalError } from '../../src/controller/result.js';
import { FakeClock } from '../helpers/fakeclock.js';

/** A deferred promise, to hold a worker mid-run. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

interface Harness {
  q: WorkQueue;
  clock: FakeClock;
  runs: string[];
}

function harness(
  fn: (key: string, attempt: number) => Promise<WorkerResult> | WorkerResult,
  opts: { concurrency?: number; baseDelayMs?: number; maxDelayMs?: number } = {},
): Harness {
  const clock = new FakeClock();
  const runs: string[] = [];
  const attempts = new Map<string, number>();
  const q = new WorkQueue({
    ...opts,
    clock,
    worker: async (key) => {
      runs.push(key);
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      return fn(key, n);
    },
  });
  return { q, clock, runs };
}

describe('WorkQueue', () => {
  it('runs an added key once', async () => {
    const h = harness(() => undefined);
    h.q.add('a');
    await h.q.idle();
    assert.deepEqual(h.runs, ['a']);
  });

  it('de-duplicates adds of a queued key', async () => {
    const h = harness(() => undefined);
    h.q.add('a');
    h.q.add('a');
    h.q.add('b');
    h.q.add('a');
    assert.equal(h.q.len(), 2);
    await h.q.idle();
    assert.deepEqual(h.runs, ['a', 'b']);
    assert.equal(h.q.len(), 0);
  });

  it('an add during a run marks the key dirty: it runs once more, after', async () => {
    const g = gate();
    let running = 0;
    let maxRunning = 0;
    const h = harness(async (_k, attempt) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      if (attempt === 1) await g.promise;
      running--;
    });
    h.q.add('a');
    await tick();
    assert.deepEqual(h.runs, ['a']);
    h.q.add('a');
    h.q.add('a');
    await tick();
    assert.deepEqual(h.runs, ['a'], 'not started while the first run is in flight');
    g.open();
    await h.q.idle();
    assert.deepEqual(h.runs, ['a', 'a'], 'exactly one more run');
    assert.equal(maxRunning, 1);
  });

  it('two different keys run at the same time; the same key never does', async () => {
    const gates = new Map([['a', gate()], ['b', gate()]]);
    const active = new Set<string>();
    let overlap = false;
    let sameKeyTwice = false;
    const h = harness(async (key) => {
      if (active.has(key)) sameKeyTwice = true;
      active.add(key);
      if (active.size > 1) overlap = true;
      await gates.get(key)?.promise;
      active.delete(key);
    });
    h.q.add('a');
    h.q.add('b');
    await tick();
    assert.deepEqual(new Set(h.runs), new Set(['a', 'b']));
    h.q.add('a');
    await tick();
    gates.get('a')?.open();
    gates.get('b')?.open();
    await h.q.idle();
    assert.ok(overlap, 'a and b overlapped');
    assert.ok(!sameKeyTwice, 'a never ran twice at once');
    assert.equal(h.runs.filter((k) => k === 'a').length, 2);
  });

  it('concurrency bounds parallel runs', async () => {
    const g = gate();
    let running = 0;
    let maxRunning = 0;
    const h = harness(
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await g.promise;
        running--;
      },
      { concurrency: 2 },
    );
    for (const k of ['a', 'b', 'c', 'd', 'e']) h.q.add(k);
    await tick();
    assert.equal(running, 2);
    assert.equal(h.q.len(), 3);
    g.open();
    await h.q.idle();
    assert.equal(maxRunning, 2);
    assert.deepEqual(h.runs, ['a', 'b', 'c', 'd', 'e']);
  });

  describe('back-off', () => {
    const table: { name: string; base: number; max: number; failures: number; want: number[] }[] = [
      { name: 'doubles from base', base: 5, max: 30_000, failures: 4, want: [5, 10, 20, 40] },
      { name: 'is capped at maxDelayMs', base: 100, max: 500, failures: 5, want: [100, 200, 400, 500, 500] },
    ];
    for (const c of table) {
      it(c.name, async () => {
        const delays: number[] = [];
        const h = harness(
          (_k, attempt) => {
            if (attempt <= c.failures) throw new Error(`boom ${attempt}`);
          },
          { baseDelayMs: c.base, maxDelayMs: c.max },
        );
        h.q.add('a');
        for (let i = 0; i < c.failures; i++) {
          await h.q.idle();
          const [d] = h.clock.pending();
          assert.ok(d !== undefined, 'a retry is scheduled');
          delays.push(d);
          h.clock.advance(d - 1);
          await tick();
          assert.equal(h.runs.length, i + 1, 'not before the delay');
          h.clock.advance(1);
        }
        await h.q.idle();
        assert.deepEqual(delays, c.want);
        assert.equal(h.runs.length, c.failures + 1);
        assert.equal(h.q.failureCount('a'), 0, 'reset on success');
        assert.deepEqual(h.clock.pending(), []);
      });
    }

    it('resets after success', async () => {
      const h = harness((_k, attempt) => {
        if (attempt === 1 || attempt === 2 || attempt === 4) throw new Error('boom');
      });
      h.q.add('a');
      await h.q.idle();
      h.clock.advance(5);
      await h.q.idle();
      assert.equal(h.q.failureCount('a'), 2);
      h.clock.advance(10);
      await h.q.idle();
      assert.equal(h.q.failureCount('a'), 0);
      h.q.add('a');
      await h.q.idle();
      assert.deepEqual(h.clock.pending(), [5], 'back to base delay');
    });

    it('is per key', async () => {
      const h = harness((k, attempt) => {
        if (k === 'a' && attempt <= 3) throw new Error('boom');
        if (k === 'b' && attempt === 1) throw new Error('boom');
      });
      h.q.add('a');
      await h.q.idle();
      h.clock.advance(5);
      await h.q.idle();
      h.clock.advance(10);
      await h.q.idle();
      h.q.add('b');
      await h.q.idle();
      assert.deepEqual(h.clock.pending(), [5, 20], 'b starts at base while a is at 4x');
    });
  });

  it('a TerminalError is not retried', async () => {
    const errors: [string, number | undefined][] = [];
    const clock = new FakeClock();
    let runs = 0;
    const q = new WorkQueue({
      clock,
      worker: async () => {
        runs++;
        throw new TerminalError('spec.tracing.endpoint: bad');
      },
      onError: (key, _err, retry) => errors.push([key, retry]),
    });
    q.add('a');
    await q.idle();
    clock.advance(60_000);
    await q.idle();
    assert.equal(runs, 1);
    assert.deepEqual(clock.pending(), []);
    assert.deepEqual(errors, [['a', undefined]]);
  });

  it('onError reports the retry delay of ordinary errors', async () => {
    const errors: [string, number | undefined][] = [];
    const clock = new FakeClock();
    const q = new WorkQueue({
      clock,
      baseDelayMs: 7,
      worker: async () => {
        throw new Error('x');
      },
      onError: (key, _err, retry) => errors.push([key, retry]),
    });
    q.add('a');
    await q.idle();
    assert.deepEqual(errors, [['a', 7]]);
    await q.shutdown();
  });

  describe('requeueAfterMs', () => {
    it('runs the key again after the delay', async () => {
      const h = harness((_k, attempt) => (attempt === 1 ? { requeueAfterMs: 1000 } : undefined));
      h.q.add('a');
      await h.q.idle();
      assert.deepEqual(h.clock.pending(), [1000]);
      h.clock.advance(999);
      await h.q.idle();
      assert.equal(h.runs.length, 1);
      h.clock.advance(1);
      await h.q.idle();
      assert.equal(h.runs.length, 2);
      assert.deepEqual(h.clock.pending(), []);
    });

    it('the earliest pending delayed add per key wins', async () => {
      const h = harness(() => undefined);
      h.q.addAfter('a', 500);
      h.q.addAfter('a', 200);
      h.q.addAfter('a', 900);
      assert.deepEqual(h.clock.pending(), [200]);
      h.clock.advance(200);
      await h.q.idle();
      assert.deepEqual(h.runs, ['a']);
      h.clock.advance(1000);
      await h.q.idle();
      assert.deepEqual(h.runs, ['a'], 'the later adds were dropped');
    });

    it('addAfter with 0 adds at once', async () => {
      const h = harness(() => undefined);
      h.q.addAfter('a', 0);
      await h.q.idle();
      assert.deepEqual(h.runs, ['a']);
    });

    it('a delayed add landing on a queued key is de-duplicated', async () => {
      const g = gate();
      const h = harness(async (k) => {
        if (k === 'block') await g.promise;
      }, { concurrency: 1 });
      h.q.add('block');
      h.q.add('a');
      h.q.addAfter('a', 10);
      await tick();
      h.clock.advance(10);
      assert.equal(h.q.len(), 1);
      g.open();
      await h.q.idle();
      assert.deepEqual(h.runs, ['block', 'a']);
    });
  });

  describe('writes left running by a run (Result.writes)', () => {
    it('do not hold the key: it runs again while they are unanswered; idle() waits for them', async () => {
      const g = gate();
      const h = harness((_k, attempt) => (attempt === 1 ? { writes: g.promise } : undefined));
      h.q.add('a');
      await tick();
      h.q.add('a');
      await tick();
      assert.deepEqual(h.runs, ['a', 'a'], 'the second run did not wait for the first run\'s writes');
      let idle = false;
      const waiting = h.q.idle().then(() => (idle = true));
      await tick();
      assert.equal(idle, false, 'the writes are not answered yet');
      g.open();
      await waiting;
      assert.deepEqual(h.clock.pending(), [], 'answered: nothing to retry');
    });

    it('their failure is the key\'s: reported, retried with back-off, counted as a retry', async () => {
      const errors: [string, number | undefined][] = [];
      let retried = 0;
      const clock = new FakeClock();
      let runs = 0;
      const q = new WorkQueue({
        clock,
        baseDelayMs: 7,
        worker: async () => (++runs === 1 ? { writes: Promise.reject(new Error('409 on a release')) } : undefined),
        onError: (key, _err, retry) => errors.push([key, retry]),
        observer: { added: () => undefined, retried: () => retried++, waited: () => undefined, worked: () => undefined },
      });
      q.add('a');
      await q.idle();
      assert.deepEqual(errors, [['a', 7]]);
      assert.equal(retried, 1);
      assert.deepEqual(clock.pending(), [7]);
      clock.advance(7);
      await q.idle();
      assert.equal(runs, 2, 'run again after the back-off');
      await q.shutdown();
    });

    it('shutdown waits for them, and a failure during shutdown is not retried', async () => {
      const g = gate();
      const errors: string[] = [];
      const clock = new FakeClock();
      const q = new WorkQueue({
        clock,
        worker: async () => ({ writes: g.promise.then(() => Promise.reject(new Error('writer closed'))) }),
        onError: (key) => errors.push(key),
      });
      q.add('a');
      await tick();
      let done = false;
      const s = q.shutdown().then(() => (done = true));
      await tick();
      assert.equal(done, false, 'still waiting for the writes');
      g.open();
      await s;
      assert.deepEqual(errors, []);
      assert.deepEqual(clock.pending(), []);
    });
  });

  it('shutdown waits for in-flight runs and drops queued and delayed keys', async () => {
    const g = gate();
    let finished = false;
    const h = harness(
      async (k) => {
        if (k === 'a') {
          await g.promise;
          finished = true;
        }
      },
      { concurrency: 1 },
    );
    h.q.add('a');
    h.q.add('b');
    h.q.addAfter('c', 100);
    await tick();
    let done = false;
    const s = h.q.shutdown().then(() => (done = true));
    await tick();
    assert.equal(done, false, 'still waiting for a');
    g.open();
    await s;
    assert.ok(finished);
    assert.deepEqual(h.runs, ['a']);
    assert.deepEqual(h.clock.pending(), []);
    h.q.add('d');
    await h.q.idle();
    assert.deepEqual(h.runs, ['a'], 'adds after shutdown are ignored');
  });

  it('works with real timers', async () => {
    const seen: number[] = [];
    let n = 0;
    const q = new WorkQueue({
      baseDelayMs: 2,
      worker: async () => {
        n++;
        seen.push(n);
        if (n < 3) throw new Error('flaky');
        if (n === 3) return { requeueAfterMs: 5 };
        return undefined;
      },
    });
    q.add('a');
    const deadline = Date.now() + 2000;
    while (n < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    await q.idle();
    assert.deepEqual(seen, [1, 2, 3, 4]);
    await q.shutdown();
  });
});

describe('WorkQueue observer: what the workqueue_* metrics count, by client-go rules', () => {
  function observed(worker: (key: string) => Promise<WorkerResult>) {
    const clock = new FakeClock();
    const seen = { added: 0, retried: 0, waited: [] as number[], worked: [] as number[] };
    const q = new WorkQueue({
      clock,
      baseDelayMs: 5,
      worker,
      observer: {
        added: () => seen.added++,
        retried: () => seen.retried++,
        waited: (s) => seen.waited.push(s),
        worked: (s) => seen.worked.push(s),
      },
    });
    return { q, clock, seen };
  }

  it('an add that changes nothing is not counted; a key re-added while it runs is, and waits from that add', async () => {
    const hold = gate();
    const o = observed(async () => {
      await hold.promise;
    });
    o.q.add('a');
    o.q.add('a');
    assert.equal(o.seen.added, 1, 'a second add of a waiting key');
    o.clock.advance(500);
    await tick();
    assert.deepEqual(o.seen.waited, [0.5]);
    o.q.add('a');
    o.q.add('a');
    assert.equal(o.seen.added, 2, 'one add while it runs (the key is then dirty)');
    o.clock.advance(1_000);
    assert.deepEqual(o.q.stats(), { depth: 1, unfinishedSeconds: 1, longestRunningSeconds: 1 });
    hold.open();
    await o.q.idle();
    assert.deepEqual(o.seen.worked, [1, 0]);
    assert.deepEqual(o.seen.waited, [0.5, 1], 'the second run waited from the add during the first');
    assert.equal(o.seen.added, 2, 'putting the dirty key back is not another add');
    assert.deepEqual(o.q.stats(), { depth: 0, unfinishedSeconds: 0, longestRunningSeconds: 0 });
  });

  it('a failed run is a retry (and its back-off add an add); a terminal error and a requeueAfter are not retries', async () => {
    const outcomes: Array<() => WorkerResult> = [
      () => {
        throw new Error('flaky');
      },
      () => ({ requeueAfterMs: 1_000 }),
      () => {
        throw new TerminalError('invalid');
      },
    ];
    const o = observed(async () => (outcomes.shift() ?? (() => undefined))());
    o.q.add('a');
    await o.q.idle();
    assert.deepEqual({ added: o.seen.added, retried: o.seen.retried }, { added: 1, retried: 1 });
    o.clock.advance(5);
    await o.q.idle();
    assert.deepEqual({ added: o.seen.added, retried: o.seen.retried }, { added: 2, retried: 1 });
    o.clock.advance(1_000);
    await o.q.idle();
    assert.deepEqual({ added: o.seen.added, retried: o.seen.retried }, { added: 3, retried: 1 });
    assert.equal(o.seen.worked.length, 3);
    assert.deepEqual(o.clock.pending(), [], 'the terminal error was not requeued');
  });
});
