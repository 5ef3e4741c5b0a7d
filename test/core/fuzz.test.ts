// Property: whatever spec validation accepts renders a tracing stanza the kubelet's own rule
// accepts. The kubelet rule is re-implemented here independently (Go url.Parse-like, not WHATWG),
// from component-base tracing/api/v1 ValidateTracingConfiguration.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { render } from '../../src/render/render.js';
import { validatePolicy } from '../../src/validate/policy.js';
import { endpointCase, prng } from '../helpers/policy-corpus.js';

function kubeletAccepts(tracing: { endpoint?: string; samplingRatePerMillion?: number }): string | undefined {
  const rate = tracing.samplingRatePerMillion ?? 0;
  if (!Number.isInteger(rate) || rate < 0 || rate > 1_000_000) return `rate ${rate}`;
  if (tracing.endpoint === undefined) return undefined;
  const target = tracing.endpoint.includes('//') ? tracing.endpoint : `dns://${tracing.endpoint}`;
  // Go's url.Parse: rejects ASCII control characters, needs a scheme here, checks host:port digits.
  for (const ch of target) if (ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f) return 'control character';
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(target);
  if (!m) return 'no scheme';
  const scheme = (m[1] ?? '').toLowerCase();
  const rest = m[2] ?? '';
  if (rest.startsWith('//')) {
    const authority = rest.slice(2).split(/[/?#]/)[0] ?? '';
    const host = authority.slice(authority.lastIndexOf('@') + 1);
    const port = host.startsWith('[') ? host.slice(host.indexOf(']') + 1) : host.slice(host.lastIndexOf(':') >= 0 ? host.lastIndexOf(':') : host.length);
    if (port !== '' && !/^:[0-9]*$/.test(port)) return `invalid port ${port}`;
    if (/%(?![0-9A-Fa-f]{2})/.test(authority)) return 'invalid escape';
    if (/\s/.test(authority)) return 'space in host';
  }
  if (!['dns', 'unix', 'unix-abstract'].includes(scheme)) return `scheme ${scheme}`;
  return undefined;
}

const versions = ['v1.25.0', 'v1.26.9', 'v1.27.1', 'v1.29.3', 'v1.33.0', 'v1.34.1', 'v1.36.2', 'v1.37.0', 'v1.40.0'];

test('fuzz: every accepted spec renders a config the kubelet rule accepts (5,000 seeded cases)', () => {
  const rand = prng(20261125);
  let accepted = 0;
  let rejected = 0;
  for (let i = 0; i < 5000; i++) {
    const doc = endpointCase(rand, i);
    const spec = doc.spec;
    const result = validatePolicy(doc);
    if (!result.ok) {
      rejected++;
      for (const e of result.errors) assert.match(e.path, /^spec\./, `error without a spec path for ${JSON.stringify(doc)}`);
      continue;
    }
    accepted++;
    for (const v of versions) {
      const r = render(result.policy.spec, v);
      if (!r.supported) continue;
      const problem = kubeletAccepts(r.config.tracing);
      assert.equal(problem, undefined, `${JSON.stringify(spec)} on ${v}: kubelet would reject (${problem})`);
      if (r.config.featureGates) assert.ok(!/^v1\.(3[7-9]|[4-9][0-9])/.test(v), `gate written to ${v}`);
    }
  }
  // The generator must exercise both sides, or the property says nothing.
  assert.ok(accepted > 300, `only ${accepted} accepted`);
  assert.ok(rejected > 500, `only ${rejected} rejected`);
});
