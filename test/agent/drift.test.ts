import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  A_APPLIED_HASH, A_DESIRED_CONFIG, A_DESIRED_HASH, A_MESSAGE, A_REPAIR, A_STATE, A_STATE_HASH, A_STATE_TIME, REMOVED_HASH,
} from '../../src/api/annotations.js';
import { decideAction } from '../../src/agent/agent.js';
import { differences, driftReport, dropinDrift, expectationOf, mainDrift, repairRequested } from '../../src/agent/drift.js';
import { renderDropin } from '../../src/agent/files.js';

const config = { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', featureGates: { KubeletTracing: true }, tracing: { samplingRatePerMillion: 100 } };
const T0 = '2026-01-01T00:00:00.000Z';
const applied = (over: Record<string, string> = {}): Record<string, string> => ({
  [A_DESIRED_HASH]: 'h1', [A_DESIRED_CONFIG]: JSON.stringify(config), [A_STATE]: 'Applied', [A_STATE_HASH]: 'h1', [A_APPLIED_HASH]: 'h1', [A_STATE_TIME]: T0, ...over,
});

describe('expectationOf: what the node should hold', () => {
  const cases: Array<[string, Record<string, string> | undefined, string | undefined]> = [
    ['Applied: the applied config', applied(), 'h1 config'],
    ['Drifted: still the applied config', applied({ [A_STATE]: 'Drifted' }), 'h1 config'],
    ['Applying: nothing to hold the files to', applied({ [A_STATE]: 'Applying' }), undefined],
    ['RolledBack: the rollout reports it, not drift', applied({ [A_STATE]: 'RolledBack' }), undefined],
    ['a new release not yet applied: nothing', applied({ [A_DESIRED_HASH]: 'h2' }), undefined],
    ['removal applied: nothing of ours', applied({ [A_DESIRED_HASH]: REMOVED_HASH, [A_DESIRED_CONFIG]: '', [A_STATE_HASH]: REMOVED_HASH, [A_APPLIED_HASH]: REMOVED_HASH }), 'removed none'],
    ['no hand-off at all (cleared after a removal, or never configured): nothing of ours', undefined, 'removed none'],
    ['no release, a stray drop-in reported: still nothing of ours', { [A_STATE]: 'Drifted', [A_STATE_HASH]: REMOVED_HASH, [A_APPLIED_HASH]: REMOVED_HASH }, 'removed none'],
    ['no release, a stray that failed: nothing to check', { [A_STATE]: 'Failed', [A_STATE_HASH]: REMOVED_HASH }, undefined],
    ['a desired config that is not JSON: nothing', applied({ [A_DESIRED_CONFIG]: '{' }), undefined],
  ];
  for (const [name, a, want] of cases) {
    test(name, () => {
      const e = expectationOf(a);
      assert.equal(e === undefined ? undefined : `${e.hash} ${e.config === null ? 'none' : 'config'}`, want);
    });
  }
});

describe('dropinDrift: the bytes of our drop-in', () => {
  const want = { hash: 'h1', config };
  const bytes = renderDropin(config);
  test('the same bytes: no drift', () => assert.equal(dropinDrift(bytes, want), undefined));
  test('deleted', () => assert.equal(dropinDrift(null, want), '90-nodetracing.conf was deleted'));
  test('a value changed: says which, and what it should be', () => {
    assert.equal(dropinDrift(bytes.replace('samplingRatePerMillion: 100', 'samplingRatePerMillion: 5'), want), '90-nodetracing.conf was changed: tracing.samplingRatePerMillion is 5, want 100');
  });
  test('a key added and one removed', () => {
    const edited = bytes.replace('  KubeletTracing: true\n', '  KubeletTracing: true\n  NodeSwap: true\n').replace(/tracing:\n.*\n/, '');
    assert.equal(dropinDrift(edited, want), '90-nodetracing.conf was changed: featureGates.NodeSwap is set (true), want unset; tracing is missing, want {"samplingRatePerMillion":100}');
  });
  test('only a comment added: still drift (the bytes are ours), said so', () => {
    assert.equal(dropinDrift(`${bytes}# hello\n`, want), '90-nodetracing.conf was changed (same settings, other bytes)');
  });
  test('broken YAML', () => assert.match(dropinDrift('a: [', want) ?? '', /^90-nodetracing\.conf was changed and is no longer valid YAML/));
  test('back after our removal', () => {
    assert.equal(dropinDrift(bytes, { hash: REMOVED_HASH, config: null }), '90-nodetracing.conf is back after our configuration was removed from this node');
    assert.equal(dropinDrift(null, { hash: REMOVED_HASH, config: null }), undefined);
  });
});

describe('mainDrift: the managed keys of the main config', () => {
  const want = { hash: 'h1', config };
  const main = 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n# ours\ntracing:\n  samplingRatePerMillion: 100\nfeatureGates:\n  KubeletTracing: true\n  NodeSwap: true\nmaxPods: 110\n';
  test('our keys there, other keys and comments anything: no drift', () => {
    assert.equal(mainDrift(main, want, 'config.yaml'), undefined);
    assert.equal(mainDrift(main.replace('maxPods: 110', 'maxPods: 150').replace('# ours\n', ''), want, 'config.yaml'), undefined);
  });
  test('rewritten without our keys (kubeadm upgrade)', () => {
    assert.equal(
      mainDrift('apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nmaxPods: 110\n', want, 'config.yaml'),
      'config.yaml no longer holds what was applied: featureGates.KubeletTracing is missing, want true; tracing is missing, want {"samplingRatePerMillion":100}',
    );
  });
  test('a managed value changed', () => {
    assert.equal(mainDrift(main.replace('samplingRatePerMillion: 100', 'samplingRatePerMillion: 7'), want, 'config.yaml'), 'config.yaml no longer holds what was applied: tracing.samplingRatePerMillion is 7, want 100');
  });
  test('deleted', () => assert.equal(mainDrift(null, want, 'config.yaml'), 'config.yaml was deleted'));
  test('after our removal nothing of ours is checked (the user may have their own tracing)', () => {
    assert.equal(mainDrift(main, { hash: REMOVED_HASH, config: null }, 'config.yaml'), undefined);
  });
});

test('differences: nested, sorted by first seen', () => {
  assert.deepEqual(differences({ a: { b: 1, c: 2 } }, { a: { b: 1, c: 3, d: 4 } }), ['a.c is 2, want 3', 'a.d is missing, want 4']);
});

describe('driftReport: what the agent writes', () => {
  const want = { hash: 'h1', config };
  const now = Date.parse(T0) + 60 * 60_000;
  const WINDOW = 10 * 60_000;
  test('drift on an Applied node: Drifted with what changed', () => {
    assert.deepEqual(driftReport(applied(), want, 'x was deleted', now, WINDOW), {
      [A_STATE]: 'Drifted', [A_STATE_HASH]: 'h1', [A_APPLIED_HASH]: 'h1', [A_MESSAGE]: 'x was deleted', [A_STATE_TIME]: new Date(now).toISOString(),
    });
  });
  test('the same drift already reported: nothing', () => {
    assert.equal(driftReport(applied({ [A_STATE]: 'Drifted', [A_MESSAGE]: 'x was deleted' }), want, 'x was deleted', now, WINDOW), undefined);
  });
  test('another drift on a Drifted node: reported again', () => {
    assert.equal(driftReport(applied({ [A_STATE]: 'Drifted', [A_MESSAGE]: 'x was deleted' }), want, 'x was changed', now, WINDOW)?.[A_MESSAGE], 'x was changed');
  });
  test('the drift undone: Applied again', () => {
    assert.equal(driftReport(applied({ [A_STATE]: 'Drifted', [A_MESSAGE]: 'x' }), want, undefined, now, WINDOW)?.[A_STATE], 'Applied');
    assert.equal(driftReport(applied(), want, undefined, now, WINDOW), undefined);
  });
  test('drift again within the window after a repair: Failed, not Drifted (no repair loop)', () => {
    const r = driftReport(applied({ [A_REPAIR]: '2025-12-31T23:00:00.000Z', [A_STATE_TIME]: new Date(now - 30_000).toISOString() }), want, 'x was deleted', now, WINDOW);
    assert.equal(r?.[A_STATE], 'Failed');
    assert.equal(r?.[A_MESSAGE], 'drifted again 30 s after it was repaired (something else keeps changing it; not repaired again): x was deleted');
  });
  test('drift long after a repair: repaired again', () => {
    const r = driftReport(applied({ [A_REPAIR]: '2025-12-31T23:00:00.000Z', [A_STATE_TIME]: new Date(now - WINDOW - 1).toISOString() }), want, 'x was deleted', now, WINDOW);
    assert.equal(r?.[A_STATE], 'Drifted');
  });
});

describe('repairs: the agent re-applies only the report the controller named', () => {
  const drifted = applied({ [A_STATE]: 'Drifted', [A_MESSAGE]: 'x was deleted', [A_STATE_TIME]: '2026-01-01T00:05:00.000Z' });
  test('Drifted, no repair released: nothing (the agent never repairs on its own)', () => {
    assert.equal(repairRequested(drifted), false);
    assert.equal(decideAction(drifted).kind, 'none');
  });
  test('a repair of this report: apply the same hash again, with a restart', () => {
    const a = { ...drifted, [A_REPAIR]: '2026-01-01T00:05:00.000Z' };
    assert.equal(repairRequested(a), true);
    const action = decideAction(a);
    assert.equal(action.kind, 'apply');
    assert.equal(action.kind === 'apply' && action.repair, true);
    assert.equal(action.kind === 'apply' && action.hash, 'h1');
  });
  test('a repair of an older report (the agent reported since): nothing', () => {
    assert.equal(decideAction({ ...drifted, [A_REPAIR]: T0 }).kind, 'none');
  });
  test('a repair of an Applied report (/configz disagreed): apply again', () => {
    const action = decideAction(applied({ [A_REPAIR]: T0 }));
    assert.equal(action.kind === 'apply' && action.repair, true);
  });
  test('a repair never overrides a failure', () => {
    assert.equal(decideAction(applied({ [A_STATE]: 'RolledBack', [A_REPAIR]: T0 })).kind, 'none');
  });
  test('the repair of a stray drop-in: remove it', () => {
    const a = { [A_DESIRED_HASH]: REMOVED_HASH, [A_DESIRED_CONFIG]: '', [A_STATE]: 'Drifted', [A_STATE_HASH]: REMOVED_HASH, [A_APPLIED_HASH]: REMOVED_HASH, [A_STATE_TIME]: T0, [A_REPAIR]: T0 };
    const action = decideAction(a);
    assert.equal(action.kind === 'apply' && action.config === null && action.repair, true);
  });
});
