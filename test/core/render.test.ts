import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FeatureGateMode } from '../../src/api/types.js';
import { GATE_REMOVED, intentHash, KUBELET_UPGRADE_SKEW, render } from '../../src/render/render.js';
import { policy } from '../helpers/policy.js';

// Every row of the version table in DESIGN.md, for each featureGate mode.
// want: 'gate' = featureGates.KubeletTracing: true; 'none' = no featureGates; 'unsupported'.
const table: Array<[string, string, FeatureGateMode, 'gate' | 'none' | 'unsupported']> = [
  ['1.24 has no tracing (Auto)', 'v1.24.17', 'Auto', 'unsupported'],
  ['1.24 has no tracing (Always)', 'v1.24.0', 'Always', 'unsupported'],
  ['1.24 has no tracing (Never)', 'v1.24.0', 'Never', 'unsupported'],
  ['1.25 needs the gate (Auto)', 'v1.25.0', 'Auto', 'gate'],
  ['1.26 needs the gate (Auto)', 'v1.26.3', 'Auto', 'gate'],
  ['1.26 with Always writes the gate', 'v1.26.3', 'Always', 'gate'],
  ['1.25 with Never is unsupported', 'v1.25.9', 'Never', 'unsupported'],
  ['1.26 with Never is unsupported', 'v1.26.0', 'Never', 'unsupported'],
  ['1.27 is beta: no gate (Auto)', 'v1.27.0', 'Auto', 'none'],
  ['1.33 no gate (Auto)', 'v1.33.1', 'Auto', 'none'],
  ['1.27 Always writes the gate', 'v1.27.5', 'Always', 'gate'],
  ['1.30 Never writes no gate', 'v1.30.1-eks-abc', 'Never', 'none'],
  ['1.34 GA: no gate (Auto)', 'v1.34.0', 'Auto', 'none'],
  ['1.33 Always writes the gate (the last minor where it can be turned off)', 'v1.33.1', 'Always', 'gate'],
  ['1.34 Always writes no gate (locked on; a skip-level upgrade to 1.37 would reject it)', 'v1.34.2', 'Always', 'none'],
  ['1.36 Always writes no gate (an upgrade to 1.37 would reject it)', 'v1.36.0', 'Always', 'none'],
  ['1.37 Always writes no gate (gone)', 'v1.37.0', 'Always', 'none'],
  ['1.38 Auto writes no gate', 'v1.38.1', 'Auto', 'none'],
  ['1.40 Never writes no gate', 'v1.40.0', 'Never', 'none'],
  ['k3s 1.27 Auto', '1.27.0+k3s1', 'Auto', 'none'],
];

for (const [name, version, mode, want] of table) {
  test(`render: ${name}`, () => {
    const r = render(policy({ featureGate: mode, tracing: { endpoint: 'otel:4317', samplingRatePerMillion: 5 } }).spec, version);
    if (want === 'unsupported') {
      assert.equal(r.supported, false);
      if (!r.supported) assert.match(r.reason, /v1\.2[456]/);
      return;
    }
    assert.equal(r.supported, true);
    if (!r.supported) return;
    assert.equal(r.config.apiVersion, 'kubelet.config.k8s.io/v1beta1');
    assert.equal(r.config.kind, 'KubeletConfiguration');
    assert.deepEqual(r.config.tracing, { endpoint: 'otel:4317', samplingRatePerMillion: 5 });
    if (want === 'gate') assert.deepEqual(r.config.featureGates, { KubeletTracing: true });
    else assert.equal('featureGates' in r.config, false);
    assert.equal(r.gate, want === 'gate');
    assert.match(r.hash, /^[0-9a-f]{16}$/);
  });
}

test('render: unset rate renders 0 and unset endpoint stays unset (kubelet default)', () => {
  const r = render(policy().spec, 'v1.30.0');
  assert.ok(r.supported);
  if (r.supported) assert.deepEqual(r.config.tracing, { samplingRatePerMillion: 0 });
});

test('render: unparseable version is unsupported, naming the version', () => {
  const r = render(policy().spec, 'banana');
  assert.equal(r.supported, false);
  if (!r.supported) assert.match(r.reason, /banana/);
});

test('render: hash depends on the rendered config, not on the version string', () => {
  const spec = policy({ tracing: { samplingRatePerMillion: 1 } }).spec;
  const a = render(spec, 'v1.28.0');
  const b = render(spec, 'v1.30.5-eks-1');
  const c = render(spec, 'v1.26.0');
  assert.ok(a.supported && b.supported && c.supported);
  if (a.supported && b.supported && c.supported) {
    assert.equal(a.hash, b.hash);
    assert.notEqual(a.hash, c.hash);
  }
});

test('intentHash changes with the tracing stanza and the gate mode only', () => {
  const base = policy({ tracing: { samplingRatePerMillion: 1 } }).spec;
  assert.equal(intentHash(base), intentHash({ ...base, priority: 5, rollout: { maxUnavailable: 3 } }));
  assert.notEqual(intentHash(base), intentHash({ ...base, tracing: { samplingRatePerMillion: 2 } }));
  assert.notEqual(intentHash(base), intentHash({ ...base, featureGate: 'Always' }));
});

test('render: no gate is ever written where a kubelet upgrade within the version skew would reject it', () => {
  // A kubelet may go from 1.X-3 straight to 1.X, and the upgrade restarts it on our file.
  for (const mode of ['Auto', 'Always', 'Never'] as const) {
    for (let minor = 20; minor <= 45; minor++) {
      const r = render(policy({ featureGate: mode }).spec, `v1.${minor}.0`);
      if (r.supported && r.gate) assert.ok(minor + KUBELET_UPGRADE_SKEW < GATE_REMOVED, `${mode} writes the gate on 1.${minor}, and 1.${minor + KUBELET_UPGRADE_SKEW} rejects it`);
    }
  }
});
