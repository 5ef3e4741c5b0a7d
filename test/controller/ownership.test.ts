// Ownership, pure: who owns a node among overlapping policies, and which policies a change of
// ownership concerns. Named cases.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeTracingPolicy, NodeTracingPolicySpec } from '../../src/api/types.js';
import { assignOwners, ownershipChanges } from '../../src/controller/ownership.js';
import { newPolicy } from '../../src/api/policy.js';

function policy(name: string, spec: Partial<NodeTracingPolicySpec> = {}, meta: Partial<NodeTracingPolicy['metadata']> = {}): NodeTracingPolicy {
  return newPolicy(name, spec, { generation: 1, ...meta });
}
const nodes = ['n1', 'n2', 'n3'].map((name, i) => ({ name, labels: { zone: i === 2 ? 'b' : 'a', 'kubernetes.io/hostname': name } }));
const owners = (ps: NodeTracingPolicy[]): Record<string, string> => Object.fromEntries(assignOwners(ps, nodes).owner);
const lost = (ps: NodeTracingPolicy[]): Record<string, string[]> => Object.fromEntries(assignOwners(ps, nodes).lost);

describe('assignOwners', () => {
  it('the higher priority wins, then the first name; losers list what they lost', () => {
    const ps = [policy('zz', { priority: 5 }), policy('aa'), policy('bb', { nodeSelector: { matchLabels: { zone: 'b' } }, priority: 9 })];
    assert.deepEqual(owners(ps), { n1: 'zz', n2: 'zz', n3: 'bb' });
    assert.deepEqual(lost(ps), { aa: ['n1', 'n2', 'n3'], zz: ['n3'] });
  });

  it('an invalid policy owns nothing, even with the highest priority, and loses nothing either', () => {
    const bad = policy('bad', { priority: 100, nodeSelector: { matchLabels: { 'kubernetes.io/hostname': 'n2' } }, tracing: { endpoint: 'http://otel:4317' } });
    assert.deepEqual(owners([policy('halt'), bad]), { n1: 'halt', n2: 'halt', n3: 'halt' });
    assert.deepEqual(lost([policy('halt'), bad]), {});
  });

  it('an invalid selector (In without values) owns nothing and is never evaluated', () => {
    const bad = policy('bad', { priority: 1, nodeSelector: { matchExpressions: [{ key: 'zone', operator: 'In' }] } });
    assert.deepEqual(owners([bad, policy('ok')]), { n1: 'ok', n2: 'ok', n3: 'ok' });
  });

  it('a policy being deleted owns nothing', () => {
    assert.deepEqual(owners([policy('pb', { priority: 10 }, { deletionTimestamp: '2024-01-01T00:00:00Z' }), policy('pa')]), { n1: 'pa', n2: 'pa', n3: 'pa' });
  });
});

describe('ownershipChanges', () => {
  const pa = policy('pa');
  const pb = policy('pb', { priority: 10 });
  const change = (before: NodeTracingPolicy[], after: NodeTracingPolicy[]): string[] =>
    [...ownershipChanges(assignOwners(before, nodes), assignOwners(after, nodes))].sort();

  it('deleting the owner concerns the loser that gains the nodes', () => {
    assert.deepEqual(change([pa, pb], [pa]), ['pa', 'pb']);
  });
  it('a priority change concerns both', () => {
    assert.deepEqual(change([pa, pb], [pa, policy('pb', { priority: -1 })]), ['pa', 'pb']);
  });
  it('a spec turning invalid concerns the policy that takes its nodes', () => {
    assert.deepEqual(change([pa, pb], [pa, policy('pb', { priority: 10, tracing: { endpoint: 'https://x' } })]), ['pa', 'pb']);
  });
  it('a selector change that moves one node concerns both policies', () => {
    const pz = policy('pz', { priority: 10, nodeSelector: { matchLabels: { zone: 'b' } } });
    assert.deepEqual(change([pa, pz], [pa, policy('pz', { priority: 10, nodeSelector: { matchLabels: { zone: 'a' } } })]), ['pa', 'pz']);
  });
  it('a change that moves nothing concerns nobody', () => {
    assert.deepEqual(change([pa, pb], [pa, policy('pb', { priority: 20 })]), []);
  });
  it('a new policy that takes nothing but loses nodes is concerned', () => {
    assert.deepEqual(change([pb], [pb, pa]), ['pa']);
  });
});
