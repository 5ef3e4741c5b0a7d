// The Reconciler on its own, against an in-memory cluster (memory.ts): no API server, no agents,
// a clock the test moves. Named cases, kured-style: ownership, conflict, removal, force-deleted
// cleanup, status throttling, and the hooks it calls.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { A_DESIRED_HASH, A_POLICY, REMOVED_HASH } from '../../src/api/annotations.js';
import { FINALIZER } from '../../src/api/types.js';
import type { ControllerHooks, RolloutOwner } from '../../src/controller/hooks.js';
import { Reconciler, STALE_CACHE_RETRY_MS, STATUS_BUSY_RETRY_MS, STATUS_INTERVAL_MS, UNOWNED_KEY } from '../../src/controller/reconcile.js';
import { TerminalError } from '../../src/controller/result.js';
import { MemoryCluster } from './memory.js';

const FAST = { minReadySeconds: 0 };

function reconciler(m: MemoryCluster, hooks: ControllerHooks = {}, caches?: () => { fresh: boolean; epoch: number }): Reconciler {
  return new Reconciler({
    policies: () => [...m.policies.values()],
    policy: (name) => m.policies.get(name),
    nodes: () => [...m.nodes.values()],
    writer: m,
    now: () => m.now,
    hooks,
    ...(caches ? { caches } : {}),
  });
}

/** A node carrying policy `p`'s applied configuration, hash `h`. */
function carrying(m: MemoryCluster, name: string, p: string, h = 'h1', labels: Record<string, string> = {}): void {
  m.addNode(name, labels, { [A_POLICY]: p, [A_DESIRED_HASH]: h });
  m.report(name);
}

describe('Reconciler: one reconcile', () => {
  const table: { name: string; setup: (m: MemoryCluster) => void; key?: string; caches?: () => { fresh: boolean; epoch: number }; released: number; writes?: string[]; conditions?: Record<string, string>; throws?: RegExp }[] = [
    {
      name: 'a policy without its finalizer gets it first, and nothing else',
      setup: (m) => { m.addNode('n1'); m.addPolicy('p', {}, { finalizers: [] }); },
      released: 0, writes: [`finalizers p [${FINALIZER}]`],
    },
    {
      name: 'releases maxUnavailable nodes, each handed to the policy',
      setup: (m) => { ['n1', 'n2', 'n3'].forEach((n) => m.addNode(n)); m.addPolicy('p', { rollout: { maxUnavailable: 2 } }); },
      released: 2, conditions: { Ready: 'False', Reconciling: 'True' },
    },
    {
      name: 'ownership: the higher priority owns a shared node; the other leaves it and reports Conflict',
      setup: (m) => {
        m.addNode('n1', { role: 'gpu' }); m.addNode('n2');
        m.addPolicy('pa', { rollout: { maxUnavailable: 2 } });
        m.addPolicy('pb', { priority: 10, nodeSelector: { matchLabels: { role: 'gpu' } } });
      },
      key: 'pa', released: 1, conditions: { Conflict: 'True' },
    },
    {
      name: 'ownership: the winner takes the shared node',
      setup: (m) => {
        m.addNode('n1', { role: 'gpu' }); m.addNode('n2');
        m.addPolicy('pa', { rollout: { maxUnavailable: 2 } });
        m.addPolicy('pb', { priority: 10, nodeSelector: { matchLabels: { role: 'gpu' } } });
      },
      key: 'pb', released: 1, conditions: { Conflict: 'False', Reconciling: 'True' },
    },
    {
      name: 'an invalid spec: a terminal error, a Stalled status, no node touched',
      setup: (m) => { m.addNode('n1'); m.addPolicy('p', { tracing: { endpoint: 'http://otel:4317' } }); },
      released: 0, throws: /policy p is invalid: spec\.tracing\.endpoint/, conditions: { Stalled: 'True' },
    },
    {
      name: 'caches not fresh: nothing decided, nothing written',
      setup: (m) => { m.addNode('n1'); m.addPolicy('p'); },
      caches: () => ({ fresh: false, epoch: 0 }), released: 0, writes: [],
    },
    {
      name: 'a kubelet without tracing is not released, and counted unsupported',
      setup: (m) => { m.addNode('n1').kubeletVersion = 'v1.24.9'; m.addPolicy('p'); },
      released: 0,
    },
    {
      name: 'a policy being deleted with clean nodes drops its finalizer',
      setup: (m) => { m.addNode('n1'); m.addPolicy('p', {}, { deletionTimestamp: '2025-01-01T00:00:00Z' }); },
      released: 0, writes: ['finalizers p []'],
    },
    {
      name: 'a stray drop-in naming no policy comes off (one node at a time)',
      setup: (m) => { m.addNode('n1', {}, { [A_DESIRED_HASH]: 'h1' }); m.report('n1', 'Drifted'); m.addNode('n2', {}, { [A_DESIRED_HASH]: 'h1' }); m.report('n2', 'Drifted'); },
      key: UNOWNED_KEY, released: 1,
    },
  ];
  for (const c of table) {
    it(c.name, async () => {
      const m = new MemoryCluster();
      c.setup(m);
      const r = reconciler(m, {}, c.caches);
      const run = r.reconcile(c.key ?? 'p');
      if (c.throws) await assert.rejects(run, (err: unknown) => err instanceof TerminalError && (c.throws as RegExp).test(err.message));
      else if (c.caches) assert.deepEqual(await run, { requeueAfterMs: STALE_CACHE_RETRY_MS });
      else await run;
      assert.equal(m.released().length, c.released, m.writes.join('\n'));
      if (c.writes) assert.deepEqual(m.writes, c.writes);
      for (const [type, status] of Object.entries(c.conditions ?? {})) assert.equal(m.condition(c.key ?? 'p', type), status, `${type}: ${JSON.stringify(m.policies.get(c.key ?? 'p')?.status)}`);
    });
  }
});

describe('Reconciler: over several reconciles', () => {
  it('rolls out one node at a time to completion, never releasing a node twice', async () => {
    const m = new MemoryCluster();
    ['n1', 'n2', 'n3'].forEach((n) => m.addNode(n));
    m.addPolicy('p', { rollout: FAST });
    const r = reconciler(m);
    for (let i = 0; i < 3; i++) {
      const before = m.writes.length;
      await r.reconcile('p');
      const now = m.released(before);
      assert.equal(now.length, 1, `step ${i}: ${m.writes.slice(before).join('; ')}`);
      m.report(now[0] ?? '');
      m.now += STATUS_INTERVAL_MS;
    }
    await r.reconcile('p');
    assert.deepEqual([...new Set(m.released())].sort(), ['n1', 'n2', 'n3']);
    assert.equal(m.released().length, 3);
    assert.equal(m.condition('p', 'Ready'), 'True');
  });

  it('a release counts from the moment it is sent: the reconcile returns before the answer, and the next one does not hand out the slot again', async () => {
    const m = new MemoryCluster();
    ['n1', 'n2', 'n3'].forEach((n) => m.addNode(n));
    m.addPolicy('p', { rollout: { ...FAST, maxUnavailable: 1 } });
    // The API server holds the release: not answered, not in the cache yet.
    let answer: () => void = () => undefined;
    const apply = m.patchNodeAnnotations.bind(m);
    m.patchNodeAnnotations = (name, annotations) => new Promise<void>((resolve) => (answer = () => void apply(name, annotations).then(resolve)));
    const r = reconciler(m);
    const first = await r.reconcile('p');
    assert.ok(first?.writes, 'the release is still being written');
    await r.reconcile('p');
    assert.deepEqual(m.released(), [], 'nothing answered yet');
    answer();
    await first.writes;
    assert.equal(m.released().length, 1, 'one release in all: the second reconcile counted the first one\'s');
  });

  it('a refused release frees its slot: the node is released again, and the reconcile\'s writes carry the error', async () => {
    const m = new MemoryCluster();
    ['n1', 'n2'].forEach((n) => m.addNode(n));
    m.addPolicy('p', { rollout: { ...FAST, maxUnavailable: 1 } });
    const apply = m.patchNodeAnnotations.bind(m);
    let refuse = true;
    m.patchNodeAnnotations = async (name, annotations) => {
      if (refuse) throw new Error('the server said no');
      await apply(name, annotations);
    };
    const r = reconciler(m);
    const first = await r.reconcile('p');
    await assert.rejects(first?.writes ?? Promise.resolve(), /the server said no/);
    refuse = false;
    const second = await r.reconcile('p');
    await second?.writes;
    assert.equal(m.released().length, 1, 'released on the second try, once');
  });

  it('a node deleted while its release is unanswered: a new Node of that name is not taken for released, and a deleted one leaves no expectation', async () => {
    const m = new MemoryCluster();
    ['n1', 'n2'].forEach((n) => m.addNode(n));
    m.addPolicy('p', { rollout: { ...FAST, maxUnavailable: 1 } });
    const apply = m.patchNodeAnnotations.bind(m);
    const held: string[] = [];
    m.patchNodeAnnotations = (name) => new Promise<void>(() => void held.push(name)); // never answered
    const r = reconciler(m);
    await r.reconcile('p');
    const first = held[0] ?? '';
    assert.ok(first, 'one release sent');
    // Its Node is replaced by another of the same name (a new uid, no annotations of ours).
    m.nodes.delete(first);
    m.addNode(first).uid = `uid-${first}-2`;
    m.patchNodeAnnotations = apply;
    await r.reconcile('p');
    assert.deepEqual(m.released(), [first], 'the new node holds no slot: it is released itself');

    // A node deleted for good, its release unanswered: told, nothing is kept for it.
    const m2 = new MemoryCluster();
    m2.addNode('a1');
    m2.addPolicy('p', { rollout: FAST });
    m2.patchNodeAnnotations = () => new Promise<void>(() => undefined);
    const r2 = reconciler(m2);
    await r2.reconcile('p');
    assert.deepEqual(r2.expecting(), ['a1']);
    m2.nodes.delete('a1');
    r2.nodeDeleted('a1');
    assert.deepEqual(r2.expecting(), []);
  });

  it('conflict: a higher-priority policy takes over a node; the old owner neither clears nor re-releases it', async () => {
    const m = new MemoryCluster();
    carrying(m, 'n1', 'pa');
    m.addPolicy('pa', { rollout: FAST });
    const r = reconciler(m);
    m.addPolicy('pb', { priority: 10, rollout: FAST });
    await r.reconcile('pa');
    assert.deepEqual(m.writes.filter((w) => /n1/.test(w) && !w.startsWith('event')), [], 'pa leaves n1 to pb');
    await r.reconcile('pb');
    assert.match(m.writes.find((w) => w.startsWith('release n1')) ?? '', /\(pb\)$/, 'pb releases n1: its drop-in replaces pa\'s in one restart');
    assert.equal(m.condition('pa', 'Conflict'), 'True');
  });

  it('removal: a deleted policy takes its configuration off one node at a time, clears the keys, then drops its finalizer', async () => {
    const m = new MemoryCluster();
    carrying(m, 'n1', 'p'); carrying(m, 'n2', 'p');
    m.addPolicy('p', { rollout: FAST }, { deletionTimestamp: '2025-01-01T00:00:00Z' });
    const gone: string[] = [];
    const r = reconciler(m, { onPolicyGone: (p) => gone.push(p) });
    for (let i = 0; i < 6 && m.policies.has('p'); i++) {
      const before = m.writes.length;
      await r.reconcile('p');
      const released = m.released(before);
      assert.ok(released.length <= 1, `maxUnavailable 1: ${released.join(',')}`);
      for (const n of released) { assert.equal(m.node(n).ours[A_DESIRED_HASH], REMOVED_HASH); m.report(n); }
    }
    assert.ok(!m.policies.has('p'), m.writes.join('\n'));
    assert.deepEqual(m.writes.filter((w) => w.startsWith('clear')).sort(), ['clear n1', 'clear n2']);
    assert.deepEqual(Object.keys(m.node('n1').ours), []);
    // The delete event brings the key back: nothing is left, so the policy is forgotten.
    await r.reconcile('p');
    assert.deepEqual(gone, ['p']);
    assert.deepEqual(r.remembered(), []);
  });

  it('force-deleted: its orphans come off through the same release path, with its last rollout settings, then it is forgotten', async () => {
    const m = new MemoryCluster();
    carrying(m, 'n1', 'p'); carrying(m, 'n2', 'p'); carrying(m, 'n3', 'p');
    m.addPolicy('p', { rollout: { ...FAST, maxUnavailable: 2, paused: true } });
    const owners: RolloutOwner[] = [];
    const gone: string[] = [];
    const r = reconciler(m, { traceparent: (owner, hash) => { owners.push(owner); return `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01-${hash}`; }, onPolicyGone: (p) => gone.push(p) });
    await r.reconcile('p');
    assert.deepEqual(r.remembered(), ['p']);
    m.policies.delete('p'); // gone without its finalizer having run
    const before = m.writes.length;
    await r.reconcile('p');
    const first = m.released(before);
    assert.equal(first.length, 2, 'its last maxUnavailable (2), never paused');
    assert.deepEqual(owners, [{ metadata: { name: 'p' } }, { metadata: { name: 'p' } }], 'the hook sees the name only');
    for (const n of first) { assert.equal(m.node(n).ours[A_POLICY], 'p'); m.report(n); }
    for (let i = 0; i < 4 && [...m.nodes.values()].some((n) => Object.keys(n.ours).length > 0); i++) {
      const from = m.writes.length;
      await r.reconcile('p');
      for (const n of m.released(from)) m.report(n);
    }
    assert.deepEqual(m.writes.filter((w) => w.startsWith('clear')).sort(), ['clear n1', 'clear n2', 'clear n3']);
    await r.reconcile('p');
    assert.deepEqual(gone, ['p']);
    assert.deepEqual(r.remembered(), [], 'its per-policy memory is pruned');
  });

  it('force-deleted: a node another policy owns now is left to that policy', async () => {
    const m = new MemoryCluster();
    carrying(m, 'n1', 'old'); carrying(m, 'n2', 'old', 'h1', { role: 'gpu' });
    m.addPolicy('new', { nodeSelector: { matchLabels: { role: 'gpu' } } });
    const r = reconciler(m);
    await r.reconcile('old');
    assert.deepEqual(m.released(), ['n1']);
  });

  it('status throttling: a change of counts alone waits STATUS_INTERVAL_MS; a condition transition goes out at once', async () => {
    const m = new MemoryCluster();
    ['n1', 'n2', 'n3'].forEach((n) => m.addNode(n));
    m.addPolicy('p', { rollout: { ...FAST, maxUnavailable: 3 } });
    const r = reconciler(m);
    await r.reconcile('p');
    const statuses = () => m.writes.filter((w) => w === 'status p').length;
    assert.equal(statuses(), 1, 'the first status (conditions set) goes out at once');

    m.now += 100;
    m.report('n1');
    const res = await r.reconcile('p');
    assert.equal(statuses(), 1, 'updated 0 -> 1 only: deferred');
    assert.deepEqual(res, { requeueAfterMs: STATUS_INTERVAL_MS - 100 });

    m.now += STATUS_INTERVAL_MS - 100;
    await r.reconcile('p');
    assert.equal(statuses(), 2, 'written once the interval has passed');
    assert.equal(m.policies.get('p')?.status?.updatedNodes, 1);

    m.now += 10;
    m.report('n2'); m.report('n3');
    await r.reconcile('p');
    assert.equal(statuses(), 3, 'Ready turning True is a transition: not deferred');
    assert.equal(m.condition('p', 'Ready'), 'True');
  });

  it('a status write is not waited for: a slot freed while it is unanswered is handed over at once; the next status write waits for it', { timeout: 10_000 }, async () => {
    const m = new MemoryCluster();
    ['n1', 'n2', 'n3'].forEach((n) => m.addNode(n));
    m.addPolicy('p', { rollout: { ...FAST, maxUnavailable: 1 } });
    const write = m.patchPolicyStatus.bind(m);
    const answers: (() => void)[] = [];
    m.patchPolicyStatus = async (name, status) => {
      await new Promise<void>((r) => answers.push(r));
      await write(name, status);
    };
    const r = reconciler(m);
    const first = await r.reconcile('p');
    const [one, ...none] = m.released();
    assert.ok(one !== undefined && none.length === 0, 'one node released');
    assert.equal(answers.length, 1, 'the first status write is sent');
    assert.ok(first?.writes, 'and left to the queue, unanswered');

    m.now += 100;
    m.report(one);
    const second = await r.reconcile('p');
    assert.equal(m.released(1).length, 1, 'the freed slot is handed over while the status write is unanswered');
    assert.equal(answers.length, 1, 'no second status write while the first is unanswered');
    assert.ok((second?.requeueAfterMs ?? Infinity) <= STATUS_BUSY_RETRY_MS, 'the status is looked at again soon');

    answers[0]?.();
    await first.writes;
    assert.equal(m.policies.get('p')?.status?.updatedNodes, 0, 'the first status is what was planned then');
    m.now += STATUS_INTERVAL_MS;
    await r.reconcile('p');
    assert.equal(answers.length, 2, 'the next status write goes out once the first is answered');
    answers[1]?.();
  });

  it('calls the hooks it is given: wrapPlan around the planner, onPlan with the outcome', async () => {
    const m = new MemoryCluster();
    m.addNode('n1');
    m.addPolicy('p');
    const seen: string[] = [];
    const r = reconciler(m, {
      wrapPlan: (fn) => { seen.push('plan'); return fn(); },
      onPlan: (policy, plan, summary) => seen.push(`${policy}: release ${plan.release.length}, target ${summary.target}`),
    });
    await r.reconcile('p');
    assert.deepEqual(seen, ['plan', 'p: release 1, target 1']);
  });
});
