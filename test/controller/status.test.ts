// Status, pure: what the conditions say for each kind of rollout state. Named cases.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildStatus, desiredConditions, sameStatus, type RolloutSummary } from '../../src/controller/status.js';

function summary(over: Partial<RolloutSummary> = {}): RolloutSummary {
  return {
    generation: 2, configHash: 'h', target: 9, updated: 9, failed: 0, unsupported: 0, paused: false, halted: false, blocked: false,
    complete: true, deleting: false, maxFailures: 0, nodeTimeoutSeconds: 300, failures: [], conflicts: [], selected: 9, ...over,
  };
}
function conds(s: RolloutSummary): Record<string, { status: string; reason: string; message: string }> {
  return Object.fromEntries(desiredConditions(s).map((c) => [c.type, { status: c.status, reason: c.reason, message: c.message }]));
}

describe('desiredConditions', () => {
  it('all updated: Ready, nothing else', () => {
    const c = conds(summary());
    assert.deepEqual([c.Ready?.status, c.Reconciling?.status, c.Stalled?.status, c.Degraded?.status, c.Conflict?.status], ['True', 'False', 'False', 'False', 'False']);
    assert.equal(c.Ready?.message, '9/9 nodes updated');
  });

  it('failures within maxFailures, the rest updated: a terminal Ready (kstatus Current) with Degraded naming each node and why', () => {
    const c = conds(summary({
      updated: 7, failed: 2, maxFailures: 2,
      failures: [{ node: 'node-03', why: 'RolledBack', message: 'kubelet: invalid configuration:\n  tracing.endpoint' }, { node: 'node-07', why: 'TimedOut' }],
    }));
    assert.equal(c.Ready?.status, 'True');
    assert.equal(c.Ready?.message, '7/9 nodes updated; 2 failed, within maxFailures 2 (node-03, node-07)');
    assert.equal(c.Reconciling?.status, 'False');
    assert.equal(c.Stalled?.status, 'False');
    assert.equal(c.Degraded?.status, 'True');
    assert.equal(c.Degraded?.message, '2 node(s) failed: node-03 rolled back: kubelet: invalid configuration: tracing.endpoint; node-07 timed out: no result from its agent within nodeTimeoutSeconds (300 s)');
  });

  it('a timed-out node is not said to be rolled back', () => {
    const c = conds(summary({ complete: false, updated: 8, failed: 1, halted: true, failures: [{ node: 'node-99', why: 'TimedOut' }] }));
    assert.doesNotMatch(c.Degraded?.message ?? '', /rolled back/);
    assert.match(c.Stalled?.message ?? '', /1 failed node\(s\) exceed maxFailures 0 \(node-99\)/);
  });

  it('an agent failure without a message still names the node', () => {
    assert.equal(conds(summary({ failed: 1, failures: [{ node: 'n', why: 'Failed' }] })).Degraded?.message, '1 node(s) failed: n failed');
  });

  it('a long kubelet message is clipped', () => {
    const m = conds(summary({ failed: 1, failures: [{ node: 'n', why: 'RolledBack', message: 'x'.repeat(1000) }] })).Degraded?.message ?? '';
    assert.ok(m.length < 300, String(m.length));
  });

  it('drift, Repair: the rollout is in progress again, Degraded names the nodes and what changed', () => {
    const c = conds(summary({
      updated: 8, complete: false, drift: 'Repair',
      drifted: [{ node: 'node-05', message: '90-nodetracing.conf was deleted' }, { node: 'node-02', message: 'config.yaml no longer holds what was applied: tracing is missing, want {}' }],
    }));
    assert.equal(c.Ready?.status, 'False');
    assert.equal(c.Ready?.reason, 'RolloutInProgress');
    assert.equal(c.Degraded?.reason, 'NodesDrifted');
    assert.equal(c.Degraded?.message, '2 node(s) drifted from the configuration rolled out to them, being repaired: node-02: config.yaml no longer holds what was applied: tracing is missing, want {}; node-05: 90-nodetracing.conf was deleted');
  });

  it('drift, Report: still Ready (complete), Degraded says it is only reported', () => {
    const c = conds(summary({ updated: 8, drift: 'Report', drifted: [{ node: 'node-05', message: '90-nodetracing.conf was deleted' }] }));
    assert.equal(c.Ready?.status, 'True');
    assert.equal(c.Degraded?.status, 'True');
    assert.match(c.Degraded?.message ?? '', /reported only \(spec\.rollout\.drift: Report\): node-05/);
  });

  it('drift while paused: repaired once resumed', () => {
    const c = conds(summary({ updated: 8, complete: false, paused: true, drifted: [{ node: 'n', message: 'x' }] }));
    assert.equal(c.Ready?.reason, 'RolloutPaused');
    assert.match(c.Degraded?.message ?? '', /repaired once the rollout is resumed: n: x/);
  });

  it('failures and drift: NodesFailed first, the drifted nodes named after', () => {
    const c = conds(summary({ updated: 7, failed: 1, maxFailures: 1, failures: [{ node: 'a', why: 'Failed' }], drifted: [{ node: 'b', message: 'x' }] }));
    assert.equal(c.Degraded?.reason, 'NodesFailed');
    assert.equal(c.Degraded?.message, '1 node(s) failed: a failed; 1 more drifted (b)');
  });

  it('the status counts and names the drifted nodes, bounded like the other lists', () => {
    const drifted = Array.from({ length: 30 }, (_, i) => ({ node: `n${String(i).padStart(2, '0')}`, message: `m\n${i}` }));
    const st = buildStatus(undefined, summary({ drifted }), new Date(0));
    assert.equal(st.driftedNodes, 30);
    assert.equal(st.drifted?.length, 20);
    assert.deepEqual(st.drifted?.[0], { node: 'n00', message: 'm 0' });
    assert.deepEqual(buildStatus(undefined, summary(), new Date(0)).drifted, [], 'present and empty: a merge patch clears it');
  });

  it('Conflict names the winning policies, nodes grouped by owner', () => {
    const c = conds(summary({ conflicts: [{ node: 'n2', owner: 'zone-a' }, { node: 'n1', owner: 'zone-a' }, { node: 'n5', owner: 'gpu' }] }));
    assert.equal(c.Conflict?.message, '3 selected node(s) owned by other policies: n5 owned by gpu; n1, n2 owned by zone-a');
  });

  it('no node selected: not Ready, NoTargetNodes, not reconciling, not stalled', () => {
    const c = conds(summary({ target: 0, updated: 0, selected: 0, complete: false }));
    assert.deepEqual(c.Ready, { status: 'False', reason: 'NoTargetNodes', message: 'no node matches spec.nodeSelector' });
    assert.equal(c.Reconciling?.status, 'False');
    assert.equal(c.Stalled?.status, 'False');
  });

  it('every selected node owned by another policy: NoTargetNodes naming them', () => {
    const c = conds(summary({ target: 0, updated: 0, selected: 2, complete: false, conflicts: [{ node: 'n1', owner: 'pb' }, { node: 'n2', owner: 'pb' }] }));
    assert.equal(c.Ready?.message, 'all 2 selected nodes are owned by other policies (pb)');
    assert.equal(c.Conflict?.status, 'True');
  });

  it('no node selected any more, but some still carry its configuration: NoTargetNodes, reconciling until they are clean', () => {
    const c = conds(summary({ target: 0, updated: 0, selected: 0, complete: false, removal: { total: 3, done: 1 } }));
    assert.deepEqual(c.Ready, { status: 'False', reason: 'NoTargetNodes', message: 'no node matches spec.nodeSelector; its configuration comes off the 3 node(s) that carried it, 1 done' });
    assert.equal(c.Reconciling?.status, 'True');
    assert.equal(conds(summary({ target: 0, updated: 0, selected: 0, complete: false, removal: { total: 3, done: 3 } })).Reconciling?.status, 'False');
  });

  it('every selected node unsupported: NoTargetNodes', () => {
    const c = conds(summary({ target: 0, updated: 0, selected: 3, unsupported: 3, complete: false }));
    assert.equal(c.Ready?.message, 'all 3 selected nodes are unsupported (see status.unsupported)');
  });

  it('being deleted, even paused: Ready=False RemovingConfiguration with the progress, still reconciling', () => {
    const c = conds(summary({ target: 0, updated: 0, complete: false, deleting: true, paused: true, removal: { total: 6, done: 2 } }));
    assert.deepEqual(c.Ready, { status: 'False', reason: 'RemovingConfiguration', message: 'the policy is being deleted: its configuration comes off 6 node(s), 2 done' });
    assert.equal(c.Reconciling?.status, 'True');
    assert.equal(c.Stalled?.status, 'False');
  });

  it('an invalid spec being deleted reports the removal, not the spec', () => {
    const c = conds(summary({ invalid: 'spec.tracing.endpoint: scheme "http"', deleting: true, removal: { total: 1, done: 0 }, complete: false, target: 0 }));
    assert.equal(c.Ready?.reason, 'RemovingConfiguration');
  });

  it('an invalid spec: Stalled InvalidSpec', () => {
    const c = conds(summary({ invalid: 'spec.x: bad', complete: false }));
    assert.deepEqual(c.Stalled, { status: 'True', reason: 'InvalidSpec', message: 'spec.x: bad' });
    assert.equal(c.Ready?.status, 'False');
  });
});

describe('buildStatus: the nodes by name', () => {
  const at = new Date('2026-01-02T03:04:05Z');
  const many = (n: number) => Array.from({ length: n }, (_, i) => `node-${String(i).padStart(3, '0')}`);

  it('names the failed, unsupported and conflicting nodes with why, and counts the conflicts', () => {
    const st = buildStatus(undefined, summary({
      updated: 6, failed: 2, unsupported: 1, complete: false,
      failures: [{ node: 'node-07', why: 'TimedOut' }, { node: 'node-03', why: 'RolledBack', message: 'kubelet: invalid configuration:\n  tracing.endpoint' }],
      unsupportedNodes: [{ node: 'node-01', kubeletVersion: 'v1.24.17', message: 'kubelet v1.24 has no tracing (needs >= v1.25)' }],
      conflicts: [{ node: 'node-05', owner: 'gpu' }],
    }), at);
    assert.deepEqual(st.failures, [
      { node: 'node-03', reason: 'RolledBack', message: 'kubelet: invalid configuration: tracing.endpoint' },
      { node: 'node-07', reason: 'TimedOut' },
    ]);
    assert.deepEqual(st.unsupported, [{ node: 'node-01', kubeletVersion: 'v1.24.17', message: 'kubelet v1.24 has no tracing (needs >= v1.25)' }]);
    assert.deepEqual(st.conflicts, [{ node: 'node-05', ownedBy: 'gpu' }]);
    assert.equal(st.conflictingNodes, 1);
  });

  it('nothing to name: the lists are there and empty (a merge patch must clear the old ones)', () => {
    const st = buildStatus(undefined, summary(), at);
    assert.deepEqual([st.failures, st.unsupported, st.conflicts, st.conflictingNodes], [[], [], [], 0]);
  });

  it('at 5,000 nodes each list names the first 20 by name; the counts carry the totals', () => {
    const names = many(5000);
    const st = buildStatus(undefined, summary({
      target: 2000, updated: 0, failed: 1000, unsupported: 3000, complete: false, halted: true,
      failures: names.slice(0, 1000).reverse().map((node) => ({ node, why: 'RolledBack' as const, message: 'x'.repeat(5000) })),
      unsupportedNodes: names.slice(2000).map((node) => ({ node, kubeletVersion: 'v1.24.0', message: 'too old' })),
      conflicts: names.slice(0, 1000).map((node) => ({ node, owner: 'other' })),
    }), at);
    assert.deepEqual(st.failures?.map((f) => f.node), names.slice(0, 20));
    assert.deepEqual(st.unsupported?.map((f) => f.node), names.slice(2000, 2020));
    assert.equal(st.conflicts?.length, 20);
    assert.deepEqual([st.failedNodes, st.unsupportedNodes, st.conflictingNodes], [1000, 3000, 1000]);
    assert.ok((st.failures?.[0]?.message?.length ?? 0) <= 1024);
  });

  it('the same nodes in another order are the same status: no write', () => {
    const failures = [{ node: 'b', why: 'Failed' as const }, { node: 'a', why: 'TimedOut' as const }, { node: 'c', why: 'RolledBack' as const, message: 'm' }];
    const conflicts = [{ node: 'z', owner: 'p' }, { node: 'y', owner: 'q' }];
    const unsupportedNodes = [{ node: 'u2', kubeletVersion: 'v1.24.0', message: 'm' }, { node: 'u1', kubeletVersion: 'v1.23.0', message: 'm' }];
    const first = buildStatus(undefined, summary({ failed: 3, failures, conflicts, unsupportedNodes }), at);
    const reordered = buildStatus(first, summary({ failed: 3, failures: [...failures].reverse(), conflicts: [...conflicts].reverse(), unsupportedNodes: [...unsupportedNodes].reverse() }), new Date(at.getTime() + 5000));
    assert.ok(sameStatus(first, reordered));
  });
});
