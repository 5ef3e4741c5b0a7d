import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  A_DESIRED_CONFIG,
  A_DESIRED_HASH,
  A_STATE,
  A_STATE_HASH,
  A_TRACEPARENT,
  REMOVED_HASH,
} from '../../src/api/annotations.js';
import { decideAction } from '../../src/agent/agent.js';

const cfg = JSON.stringify({ apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', tracing: {} });

describe('decideAction', () => {
  const cases: Array<{ name: string; a: Record<string, string> | undefined; finished?: string; want: string }> = [
    { name: 'no annotations: nothing', a: undefined, want: 'none' },
    { name: 'no desired hash: nothing', a: { [A_DESIRED_CONFIG]: cfg }, want: 'none' },
    { name: 'desired hash without config: wait', a: { [A_DESIRED_HASH]: 'h1' }, want: 'none' },
    { name: 'new desired: apply', a: { [A_DESIRED_HASH]: 'h1', [A_DESIRED_CONFIG]: cfg }, want: 'apply' },
    {
      name: 'already Applied: nothing',
      a: { [A_DESIRED_HASH]: 'h1', [A_DESIRED_CONFIG]: cfg, [A_STATE]: 'Applied', [A_STATE_HASH]: 'h1' },
      want: 'none',
    },
    {
      name: 'RolledBack is not retried',
      a: { [A_DESIRED_HASH]: 'h1', [A_DESIRED_CONFIG]: cfg, [A_STATE]: 'RolledBack', [A_STATE_HASH]: 'h1' },
      want: 'none',
    },
    {
      name: 'Applied for an older hash: apply the new one',
      a: { [A_DESIRED_HASH]: 'h2', [A_DESIRED_CONFIG]: cfg, [A_STATE]: 'Applied', [A_STATE_HASH]: 'h1' },
      want: 'apply',
    },
    {
      name: 'Applying for this hash after a crash: resume',
      a: { [A_DESIRED_HASH]: 'h1', [A_DESIRED_CONFIG]: cfg, [A_STATE]: 'Applying', [A_STATE_HASH]: 'h1' },
      want: 'apply resume',
    },
    {
      name: 'Applying for a hash this process just finished: stale event',
      a: { [A_DESIRED_HASH]: 'h1', [A_DESIRED_CONFIG]: cfg, [A_STATE]: 'Applying', [A_STATE_HASH]: 'h1' },
      finished: 'h1',
      want: 'none',
    },
    { name: 'removal', a: { [A_DESIRED_HASH]: REMOVED_HASH, [A_DESIRED_CONFIG]: '' }, want: 'apply remove' },
    { name: 'config that is not JSON: reject', a: { [A_DESIRED_HASH]: 'h1', [A_DESIRED_CONFIG]: '{nope' }, want: 'reject' },
    { name: 'config that is a JSON array: reject', a: { [A_DESIRED_HASH]: 'h1', [A_DESIRED_CONFIG]: '[]' }, want: 'reject' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = decideAction(c.a, c.finished);
      const summary =
        got.kind === 'apply' ? ['apply', got.resume ? 'resume' : '', got.config === null ? 'remove' : ''].filter(Boolean).join(' ') : got.kind;
      assert.equal(summary, c.want);
    });
  }

  test('passes the traceparent through', () => {
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const got = decideAction({ [A_DESIRED_HASH]: 'h1', [A_DESIRED_CONFIG]: cfg, [A_TRACEPARENT]: tp });
    assert.equal(got.kind === 'apply' ? got.traceparent : undefined, tp);
  });
});
