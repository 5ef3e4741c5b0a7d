// The views behind kto status and kto plan, pure: named cases over hand-made Nodes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  A_APPLIED_HASH, A_DESIRED_CONFIG, A_DESIRED_HASH, A_DESIRED_TIME, A_MESSAGE, A_POLICY, A_STATE, A_STATE_HASH, A_STATE_TIME,
} from '../../src/api/annotations.js';
import type { NodeTracingPolicy, NodeTracingPolicySpec } from '../../src/api/types.js';
import type { CachedNode } from '../../src/controller/nodes.js';
import { nodeOrderKey } from '../../src/controller/planner.js';
import { planPolicies } from '../../src/inspect/plan.js';
import { policyView } from '../../src/inspect/rollout-view.js';
import { humanDuration } from '../../src/util/duration.js';
import { render } from '../../src/render/render.js';
import { newPolicy } from '../../src/api/policy.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const iso = (agoMs: number) => new Date(NOW - agoMs).toISOString();

function policy(name: string, spec: Partial<NodeTracingPolicySpec> = {}, status?: NodeTracingPolicy['status']): NodeTracingPolicy {
  return { ...newPolicy(name, { tracing: { samplingRatePerMillion: 1 }, ...spec }, { generation: 1 }), ...(status ? { status } : {}) };
}

function node(name: string, version = 'v1.30.1', ours: Record<string, string> = {}, o: Partial<CachedNode> = {}): CachedNode {
  return { name, uid: `uid-${name}`, labels: { 'kubernetes.io/hostname': name }, ours, kubeletVersion: version, ready: true, ...o };
}

const hashOf = (p: NodeTracingPolicy, version = 'v1.30.1'): string => {
  const r = render(p.spec, version);
  assert.ok(r.supported);
  return r.hash;
};

/** The annotations of a node that runs policy p's config. */
function applied(p: NodeTracingPolicy, version = 'v1.30.1'): Record<string, string> {
  const h = hashOf(p, version);
  return { [A_POLICY]: p.metadata.name ?? '', [A_DESIRED_CONFIG]: '{}', [A_DESIRED_HASH]: h, [A_DESIRED_TIME]: iso(600_000), [A_STATE]: 'Applied', [A_STATE_HASH]: h, [A_STATE_TIME]: iso(590_000), [A_APPLIED_HASH]: h };
}

describe('policyView (kto status)', () => {
  const p = policy('basic', { rollout: { nodeTimeoutSeconds: 300 } }, { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'False', reason: 'RolloutInProgress', message: '1/4 nodes updated', lastTransitionTime: iso(0) }] });
  const h = hashOf(p);

  it('every phase of a rollout, node by node, with the agent state, the hashes and since when', () => {
    const nodes = [
      node('n1', 'v1.30.1', applied(p)),
      node('n2', 'v1.30.1', { [A_POLICY]: 'basic', [A_DESIRED_HASH]: h, [A_DESIRED_TIME]: iso(20_000) }),
      node('n3', 'v1.30.1', { [A_POLICY]: 'basic', [A_DESIRED_HASH]: h, [A_DESIRED_TIME]: iso(60_000), [A_STATE]: 'RolledBack', [A_STATE_HASH]: h, [A_STATE_TIME]: iso(30_000), [A_MESSAGE]: 'kubelet: invalid configuration:\n tracing' }),
      node('n4', 'v1.30.1', { [A_POLICY]: 'basic', [A_DESIRED_HASH]: h, [A_DESIRED_TIME]: iso(400_000) }),
      node('n5'),
      node('old', 'v1.23.4'),
    ];
    const v = policyView(p, [p], nodes, NOW);
    const rows = Object.fromEntries(v.nodes.map((r) => [r.node, r]));
    assert.deepEqual([rows.n1?.phase, rows.n2?.phase, rows.n3?.phase, rows.n4?.phase, rows.n5?.phase], ['Updated', 'InProgress', 'Failed', 'Failed', 'Pending']);
    assert.equal(rows.n1?.appliedHash, h);
    assert.equal(rows.n2?.since, iso(20_000), 'released, no report yet: since the release');
    assert.equal(rows.n3?.since, iso(30_000), 'since its agent reported');
    assert.deepEqual([rows.n3?.failure, rows.n3?.message], ['RolledBack', 'kubelet: invalid configuration:\n tracing']);
    assert.equal(rows.n4?.failure, 'TimedOut', 'no answer within nodeTimeoutSeconds');
    assert.deepEqual(v.counts, { target: 5, updated: 1, inProgress: 1, pending: 1, failed: 2, drifted: 0, unsupported: 1, conflict: 0, removing: 0 });
    assert.deepEqual(v.unsupported, [{ node: 'old', kubeletVersion: 'v1.23.4', message: 'kubelet v1.23 has no tracing (needs >= v1.25)' }]);
    assert.equal(v.ready?.reason, 'RolloutInProgress');
    assert.equal(v.requeueAfterMs, 280_000, 'n2 times out next');
  });

  it('a drifted node: phase Drifted, what changed, counted', () => {
    const nodes = [node('n1', 'v1.30.1', { ...applied(p), [A_STATE]: 'Drifted', [A_MESSAGE]: '90-nodetracing.conf was deleted', [A_STATE_TIME]: iso(5_000) }), node('n2', 'v1.30.1', applied(p))];
    const v = policyView(p, [p], nodes, NOW);
    assert.equal(v.nodes[0]?.phase, 'Drifted');
    assert.equal(v.nodes[0]?.message, '90-nodetracing.conf was deleted');
    assert.equal(v.counts.drifted, 1);
    assert.equal(v.drift, 'Repair');
  });

  it('a conflict says who owns the node and why: the same priority, the first name', () => {
    const a = policy('a');
    const v = policyView(p, [p, a], [node('n1')], NOW);
    assert.deepEqual(v.conflicts, [{ node: 'n1', ownedBy: 'a', why: 'same priority 0, name a sorts before basic' }]);
    assert.equal(v.counts.target, 0);
  });

  it('an invalid spec: the errors, and no node', () => {
    const bad = policy('bad', { tracing: { endpoint: 'http://x:4317' } });
    const v = policyView(bad, [bad], [node('n1')], NOW);
    assert.match(v.invalid ?? '', /spec\.tracing\.endpoint: scheme "http"/);
    assert.deepEqual(v.nodes, []);
  });

  it('a node that left the selector has its drop-in removed', () => {
    const narrow = policy('basic', { nodeSelector: { matchLabels: { pool: 'gpu' } } });
    const v = policyView(narrow, [narrow], [node('n1', 'v1.30.1', applied(narrow))], NOW);
    assert.deepEqual(v.nodes.map((r) => [r.node, r.removing, r.desiredHash, r.phase]), [['n1', true, 'removed', 'Pending']]);
    assert.equal(v.counts.removing, 1);
  });

  it('humanDuration reads as kubectl\'s ages', () => {
    assert.deepEqual([5e3, 119e3, 192e3, 600e3, 47 * 60e3, 5 * 3600e3 + 3 * 60e3, 30 * 3600e3, 76 * 3600e3, 40 * 86400e3].map(humanDuration), ['5s', '119s', '3m12s', '10m', '47m', '5h3m', '30h', '3d4h', '40d']);
  });
});

describe('planPolicies (kto plan)', () => {
  const plan = (planned: NodeTracingPolicy[], cluster: NodeTracingPolicy[], nodes: CachedNode[]) => planPolicies({ planned, cluster, nodes, now: NOW, restartSeconds: 30 });

  it('a new policy on fresh nodes: every node new, batches of maxUnavailable in the planner\'s order, the estimate', () => {
    const p = policy('p', { rollout: { maxUnavailable: 2, minReadySeconds: 15 } });
    const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'].map((n) => node(n));
    const r = plan([p], [], nodes).policies[0];
    assert.ok(r);
    assert.deepEqual(r.counts, { targets: 5, unchanged: 0, new: 5, changed: 0, inProgress: 0, failed: 0, unsupported: 0, conflicts: 0, dropped: 0, taken: 0 });
    const order = nodes.map((n) => ({ n: n.name, k: nodeOrderKey(n.uid, hashOf(p)) })).sort((a, b) => (a.k < b.k ? -1 : 1)).map((x) => x.n);
    assert.deepEqual(r.rollout.batches, [order.slice(0, 2), order.slice(2, 4), order.slice(4)]);
    assert.deepEqual(r.estimate, { batches: 3, restartSeconds: 30, minReadySeconds: 15, seconds: 135 });
  });

  it('the same spec as on the nodes: unchanged, no batch', () => {
    const p = policy('p');
    const r = plan([p], [p], [node('n1', 'v1.30.1', applied(p))]).policies[0];
    assert.deepEqual([r?.specChanged, r?.targets[0]?.change, r?.rollout.batches], [false, 'unchanged', []]);
  });

  it('a changed rate: changed, from its current hash', () => {
    const old = policy('p');
    const next = policy('p', { tracing: { samplingRatePerMillion: 99 } });
    const r = plan([next], [old], [node('n1', 'v1.30.1', applied(old))]).policies[0];
    assert.deepEqual(r?.targets[0], { node: 'n1', kubeletVersion: 'v1.30.1', hash: hashOf(next), change: 'changed', now: { policy: 'p', appliedHash: hashOf(old) } });
  });

  it('a narrowed selector drops a node (its drop-in comes off in the same rollout); a lower-priority policy that also selects it gains it', () => {
    const old = policy('p', { priority: 5 });
    const narrow = policy('p', { priority: 5, nodeSelector: { matchLabels: { 'kubernetes.io/hostname': 'n2' } } });
    const low = policy('low');
    const nodes = [node('n1', 'v1.30.1', applied(old)), node('n2', 'v1.30.1', applied(old)), node('n3', 'v1.30.1', applied(old))];
    const report = plan([narrow], [old, low], nodes);
    const r = report.policies[0];
    assert.deepEqual(r?.dropped.map((d) => [d.node, d.then]), [['n1', 'no longer selected: handed to low'], ['n3', 'no longer selected: handed to low']]);
    assert.deepEqual(report.others, [{ policy: 'low', loses: [], gains: [{ node: 'n1', from: 'p' }, { node: 'n3', from: 'p' }] }]);

    const alone = plan([narrow], [old], nodes).policies[0];
    assert.deepEqual(alone?.dropped.map((d) => d.then), ['no longer selected: drop-in removed', 'no longer selected: drop-in removed']);
    assert.deepEqual(alone?.rollout.batches.flat().sort(), ['n1', 'n3'], 'removals are released like any node');
  });

  it('not-Ready nodes are not released; they are listed as waiting and hold a slot', () => {
    const p = policy('p', { rollout: { maxUnavailable: 2 } });
    const r = plan([p], [], [node('n1'), node('n2', 'v1.30.1', {}, { ready: false }), node('n3')]).policies[0];
    assert.deepEqual(r?.rollout.waiting, ['n2']);
    assert.equal(r?.rollout.batches.every((b) => b.length === 1), true, 'one slot left while n2 is not Ready');
    assert.deepEqual(r?.rollout.batches.flat().sort(), ['n1', 'n3']);
  });

  it('a paused policy: the batches it would release once unpaused, and that it is paused', () => {
    const r = plan([policy('p', { rollout: { paused: true } })], [], [node('n1')]).policies[0];
    assert.deepEqual([r?.rollout.paused, r?.rollout.batches], [true, [['n1']]]);
  });

  it('a new higher-priority policy takes a node: the winner says why, the loser is told what it loses and why', () => {
    const p = policy('p');
    const high = policy('zz-high', { priority: 3, nodeSelector: { matchLabels: { 'kubernetes.io/hostname': 'n1' } } });
    const report = plan([high], [p], [node('n1', 'v1.30.1', applied(p)), node('n2', 'v1.30.1', applied(p))]);
    assert.deepEqual(report.policies[0]?.taken, [{ node: 'n1', from: 'p', why: 'priority 3 > 0' }]);
    assert.deepEqual(report.others, [{ policy: 'p', loses: [{ node: 'n1', to: 'zz-high' }], gains: [] }]);
    // Planning p itself against the cluster that has zz-high: n1 is a conflict, dropped with why.
    const pp = plan([p], [p, high], [node('n1', 'v1.30.1', applied(p))]).policies[0];
    assert.deepEqual(pp?.conflicts, [{ node: 'n1', ownedBy: 'zz-high', why: 'priority 3 > 0' }]);
    assert.deepEqual(pp?.dropped.map((d) => d.then), ['handed to zz-high (priority 3 > 0)']);
  });

  it('the drop-in per kubelet version: the gate on 1.26 only', () => {
    const r = plan([policy('p')], [], [node('a', 'v1.26.3'), node('b', 'v1.33.0'), node('c', 'v1.26.3')]).policies[0];
    assert.deepEqual(r?.dropins.map((d) => [d.kubeletVersion, d.nodes, d.config.featureGates ?? null]), [['v1.26.3', ['a', 'c'], { KubeletTracing: true }], ['v1.33.0', ['b'], null]]);
  });
});
