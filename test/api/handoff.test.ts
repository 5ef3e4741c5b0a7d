// The hand-off protocol: what each side writes reads back as meant, and the wire shape is the one
// the other side (and older agents and controllers) expects.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  A_APPLIED_HASH, A_DESIRED_CONFIG, A_DESIRED_HASH, A_DESIRED_TIME, A_MESSAGE, A_POLICY, A_REPAIR, A_STATE, A_STATE_HASH,
  A_STATE_TIME, A_TRACEPARENT, AGENT_STATES, REMOVED_HASH,
} from '../../src/api/annotations.js';
import {
  clearHandOff, decode, desiredConfig, encodeRelease, encodeReport, type HandOffPatch, isTerminal, policyOf, repairRequested,
} from '../../src/api/handoff.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const T1 = Date.parse('2026-01-01T00:05:00.000Z');
const config = { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', tracing: { endpoint: 'otel:4317' } };

/** A merge patch applied to annotations, as the API server does. */
function apply(a: Record<string, string>, patch: HandOffPatch): Record<string, string> {
  const out = { ...a };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

describe('a release, round trip', () => {
  test('a config for a policy: every field reads back', () => {
    const h = decode(apply({}, encodeRelease({ policy: 'p1', hash: 'h1', config, timeMs: T0, traceparent: '00-abc-def-01' })));
    assert.deepEqual(h, {
      policy: 'p1', desiredHash: 'h1', desiredConfig: JSON.stringify(config), desiredTime: new Date(T0).toISOString(), desiredTimeMs: T0, traceparent: '00-abc-def-01',
    });
    assert.deepEqual(desiredConfig(h), { ok: true, config });
  });
  test('a removal without an owner: no policy key written, an empty config, no traceparent or repair left over', () => {
    const before = { [A_POLICY]: 'old', [A_TRACEPARENT]: 'tp', [A_REPAIR]: new Date(T0).toISOString() };
    const patch = encodeRelease({ hash: REMOVED_HASH, config: null, timeMs: T1 });
    assert.equal(A_POLICY in patch, false, 'the owner is kept as it was');
    const h = decode(apply(before, patch));
    assert.equal(h.policy, 'old');
    assert.equal(h.desiredConfig, '');
    assert.equal(h.traceparent, undefined);
    assert.equal(h.repair, undefined);
    assert.deepEqual(desiredConfig(h), { ok: true, config: null });
  });
  test('a repair names the report it answers, as written', () => {
    const report = encodeReport({ state: 'Drifted', hash: 'h1', appliedHash: 'h1', message: 'x was deleted', timeMs: T1 });
    const node = apply(apply({}, encodeRelease({ policy: 'p', hash: 'h1', config, timeMs: T0 })), report);
    const token = decode(node).stateTime;
    const h = decode(apply(node, encodeRelease({ policy: 'p', hash: 'h1', config, timeMs: T1 + 1, repairOf: token })));
    assert.equal(h.repair, token);
    assert.equal(h.repairOfMs, T1);
    assert.equal(repairRequested(h), true);
  });
});

describe('an agent report, round trip', () => {
  const released = apply({}, encodeRelease({ policy: 'p', hash: 'h1', config, timeMs: T0 }));
  const cases: Array<[string, Parameters<typeof encodeReport>[0]]> = [
    ['Applying', { state: 'Applying', hash: 'h1', timeMs: T1 }],
    ['Applied', { state: 'Applied', hash: 'h1', appliedHash: 'h1', timeMs: T1 }],
    ['RolledBack, with why', { state: 'RolledBack', hash: 'h1', message: 'kubelet did not come back', timeMs: T1 }],
    ['Failed, with why', { state: 'Failed', hash: 'h1', message: 'not JSON', timeMs: T1 }],
    ['Drifted, with what changed', { state: 'Drifted', hash: 'h1', appliedHash: 'h1', message: '90-nodetracing.conf was deleted', timeMs: T1 }],
  ];
  for (const [name, r] of cases) {
    test(name, () => {
      const h = decode(apply(released, encodeReport(r)));
      assert.equal(h.state, r.state);
      assert.equal(h.stateHash, r.hash);
      assert.equal(h.appliedHash, r.appliedHash);
      assert.equal(h.message, r.message);
      assert.equal(h.stateTimeMs, r.timeMs);
      assert.equal(h.desiredHash, 'h1', 'a report leaves the release alone');
    });
  }
  test('a report without a message clears the previous one', () => {
    const failed = apply(released, encodeReport({ state: 'Failed', hash: 'h1', message: 'boom', timeMs: T0 }));
    const patch = encodeReport({ state: 'Applying', hash: 'h1', timeMs: T1 });
    assert.equal(patch[A_MESSAGE], null);
    assert.equal(decode(apply(failed, patch)).message, undefined);
  });
  test('the wire shape: keys and values as older peers read them', () => {
    assert.deepEqual(encodeReport({ state: 'Applied', hash: 'h1', appliedHash: 'h1', timeMs: T1 }), {
      [A_STATE]: 'Applied', [A_STATE_HASH]: 'h1', [A_APPLIED_HASH]: 'h1', [A_MESSAGE]: null, [A_STATE_TIME]: '2026-01-01T00:05:00.000Z',
    });
    assert.deepEqual(encodeRelease({ policy: 'p', hash: 'h1', config: null, timeMs: T0 }), {
      [A_POLICY]: 'p', [A_DESIRED_CONFIG]: '', [A_DESIRED_HASH]: 'h1', [A_DESIRED_TIME]: '2026-01-01T00:00:00.000Z', [A_TRACEPARENT]: null, [A_REPAIR]: null,
    });
  });
});

describe('decode: what is not the protocol is left out', () => {
  test('a state the protocol does not know, times that are not times, an empty message', () => {
    const h = decode({ [A_STATE]: 'Exploded', [A_STATE_TIME]: 'yesterday', [A_DESIRED_TIME]: '', [A_MESSAGE]: '', unrelated: 'x' });
    assert.equal(h.state, undefined);
    assert.equal(h.stateTime, 'yesterday');
    assert.equal(h.stateTimeMs, undefined);
    assert.equal(h.desiredTimeMs, undefined);
    assert.equal(h.message, undefined);
  });
  test('no annotations at all', () => {
    assert.deepEqual(decode(undefined), {});
    assert.equal(policyOf(undefined), undefined);
  });
  test('every state the agent can report reads back', () => {
    for (const s of AGENT_STATES) assert.equal(decode({ [A_STATE]: s }).state, s);
  });
});

describe('desiredConfig', () => {
  const cases: Array<[string, Record<string, string>, string]> = [
    ['a hash without its config: wait for it', { [A_DESIRED_HASH]: 'h1' }, 'missing'],
    ['not JSON: rejected, naming the key', { [A_DESIRED_HASH]: 'h1', [A_DESIRED_CONFIG]: '{' }, `invalid ${A_DESIRED_CONFIG} is not JSON`],
    ['JSON but not an object', { [A_DESIRED_HASH]: 'h1', [A_DESIRED_CONFIG]: '[1]' }, `invalid ${A_DESIRED_CONFIG} is not a JSON object`],
    ['the removal hash needs no config', { [A_DESIRED_HASH]: REMOVED_HASH }, 'remove'],
  ];
  for (const [name, a, want] of cases) {
    test(name, () => {
      const d = desiredConfig(decode(a));
      const got = d.ok ? (d.config === null ? 'remove' : 'config') : d.missing ? 'missing' : `invalid ${d.message}`;
      assert.ok(got.startsWith(want), `${got} does not start with ${want}`);
    });
  }
});

describe('terminal states: the agent is done with its state-hash', () => {
  const cases: Array<[string | undefined, boolean]> = [['Applied', true], ['RolledBack', true], ['Failed', true], ['Drifted', true], ['Applying', false], [undefined, false]];
  for (const [state, want] of cases) {
    test(`${state ?? 'no report'}: ${want ? 'done' : 'not done'}`, () => {
      assert.equal(isTerminal(decode(state === undefined ? {} : { [A_STATE]: state }).state), want);
    });
  }
});

test('repairRequested: only for the report named, about the released hash, not after a failure', () => {
  const base = { [A_DESIRED_HASH]: 'h1', [A_STATE_HASH]: 'h1', [A_STATE]: 'Drifted', [A_STATE_TIME]: new Date(T1).toISOString() };
  assert.equal(repairRequested(decode({ ...base, [A_REPAIR]: new Date(T1).toISOString() })), true);
  assert.equal(repairRequested(decode({ ...base, [A_REPAIR]: new Date(T0).toISOString() })), false, 'an older report');
  assert.equal(repairRequested(decode({ ...base, [A_STATE]: 'Failed', [A_REPAIR]: new Date(T1).toISOString() })), false);
  assert.equal(repairRequested(decode({ ...base, [A_DESIRED_HASH]: 'h2', [A_REPAIR]: new Date(T1).toISOString() })), false);
  assert.equal(repairRequested(decode(base)), false);
});

test('clearHandOff: every key of ours, nothing else', () => {
  const a = { ...apply({}, encodeRelease({ policy: 'p', hash: 'h1', config, timeMs: T0, traceparent: 'tp' })), other: 'keep' };
  const patch = clearHandOff(a);
  assert.deepEqual(Object.keys(patch).sort(), [A_DESIRED_CONFIG, A_DESIRED_HASH, A_DESIRED_TIME, A_POLICY, A_TRACEPARENT].sort());
  assert.deepEqual(decode(apply(a, patch)), {});
  assert.deepEqual(clearHandOff(undefined), {});
});
