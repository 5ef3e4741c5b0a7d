// The controller's node view: a trimmed Node, and the planner's view of it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { A_DESIRED_HASH, A_DESIRED_TIME, A_MESSAGE, A_POLICY, A_STATE, A_STATE_HASH, A_STATE_TIME } from '../../src/api/annotations.js';
import { toPlanNode, trimNode, type CachedNode } from '../../src/controller/nodes.js';
import { nodeOrderKey } from '../../src/controller/planner.js';

const T0 = '2026-01-02T03:04:05.678Z';
const T1 = '2026-01-02T03:04:06.000Z';

function cached(ours: Record<string, string>, over: Partial<CachedNode> = {}): CachedNode {
  return { name: 'n1', uid: 'u1', labels: {}, ours, kubeletVersion: 'v1.30.1', ready: true, ...over };
}

describe('toPlanNode', () => {
  const cases: { name: string; ours: Record<string, string>; want: Record<string, unknown> }[] = [
    { name: 'never released', ours: {}, want: { desiredHash: undefined, desiredTimeMs: undefined, state: undefined } },
    {
      name: 'released and applying: times parsed',
      ours: { [A_POLICY]: 'p', [A_DESIRED_HASH]: 'h', [A_DESIRED_TIME]: T0, [A_STATE]: 'Applying', [A_STATE_HASH]: 'h', [A_STATE_TIME]: T1 },
      want: { desiredHash: 'h', desiredTimeMs: Date.parse(T0), state: 'Applying', stateHash: 'h', stateTimeMs: Date.parse(T1) },
    },
    { name: 'unparsable time and unknown state are absent', ours: { [A_DESIRED_TIME]: 'yesterday', [A_STATE]: 'Sleeping' }, want: { desiredTimeMs: undefined, state: undefined } },
    { name: 'the message is carried', ours: { [A_STATE]: 'Failed', [A_MESSAGE]: 'kubelet said no' }, want: { state: 'Failed', message: 'kubelet said no' } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = toPlanNode(cached(c.ours), 'h');
      for (const [k, v] of Object.entries(c.want)) assert.deepEqual(p[k as keyof typeof p], v, k);
      assert.equal(p.targetHash, 'h');
      assert.equal(p.orderKey, nodeOrderKey('u1', 'h'));
    });
  }

  it('the same node object and hash give the same view; a new version of the node, a new one', () => {
    const n = cached({ [A_DESIRED_HASH]: 'h', [A_DESIRED_TIME]: T0 });
    const a = toPlanNode(n, 'h');
    assert.equal(toPlanNode(n, 'h'), a);
    const n2 = cached({ [A_DESIRED_HASH]: 'h', [A_DESIRED_TIME]: T1 });
    assert.equal(toPlanNode(n2, 'h').desiredTimeMs, Date.parse(T1));
  });

  it('another target hash: its own target and order key, the node fields as before', () => {
    const n = cached({ [A_DESIRED_HASH]: 'h', [A_DESIRED_TIME]: T0 }, { ready: false });
    const a = toPlanNode(n, 'h');
    const b = toPlanNode(n, 'other');
    assert.equal(b.targetHash, 'other');
    assert.equal(b.orderKey, nodeOrderKey('u1', 'other'));
    assert.deepEqual({ ...b, targetHash: 'h', orderKey: a.orderKey }, a);
    assert.equal(a.targetHash, 'h', 'the first view is not changed');
  });

  it('from a trimmed Node', () => {
    const n = trimNode({
      metadata: { name: 'n1', uid: 'u1', labels: { a: 'b' }, annotations: { other: 'x', [A_DESIRED_HASH]: 'h', [A_DESIRED_TIME]: T0 } },
      status: { nodeInfo: { kubeletVersion: 'v1.31.0' }, conditions: [{ type: 'Ready', status: 'True' }] },
    });
    assert.deepEqual(n.ours, { [A_DESIRED_HASH]: 'h', [A_DESIRED_TIME]: T0 });
    const p = toPlanNode(n, 'h');
    assert.equal(p.ready, true);
    assert.equal(p.desiredTimeMs, Date.parse(T0));
  });
});
