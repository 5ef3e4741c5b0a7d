// Fuzzing the policy gate end to end: seeded policies, valid and mutated (wrong types, unknown
// fields, out-of-range numbers, odd endpoints, bad selectors, deep nesting, long strings).
//  - validatePolicy never throws;
//  - a generated valid policy is accepted (the generator and the validator agree on "valid");
//  - every accepted spec renders, for every kubelet 1.25..1.40, a drop-in that the simulated
//    kubelet of that version accepts once merged into a minimal KubeletConfiguration (or it is
//    Unsupported for exactly the documented reason: featureGate Never on 1.25-1.26);
//  - every rejection names a path under a field the document has (spec., metadata., apiVersion,
//    kind, status., or the unknown top-level field itself).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { render } from '../../src/render/render.js';
import { jsonMergePatch, isObject, validateKubeletConfig, type JsonObject } from '../../src/sim/kubelet/config.js';
import { validatePolicy } from '../../src/validate/policy.js';
import { fuzzCase, prng } from '../helpers/policy-corpus.js';

const MINORS = Array.from({ length: 16 }, (_, i) => 25 + i); // 1.25 .. 1.40
const BASE: JsonObject = { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration' };

// ---- the properties -----------------------------------------------------------------------

function checkAccepted(spec: Parameters<typeof render>[0], label: string): number {
  let rendered = 0;
  for (const minor of MINORS) {
    const r = render(spec, `v1.${minor}.3`);
    if (!r.supported) {
      const why = `${label} on 1.${minor}: Unsupported (${r.reason})`;
      assert.ok(spec.featureGate === 'Never' && minor < 27, why);
      continue;
    }
    rendered++;
    const merged = jsonMergePatch(BASE, r.config);
    assert.ok(isObject(merged));
    try {
      validateKubeletConfig(merged, minor);
    } catch (e: unknown) {
      assert.fail(`${label} on 1.${minor}: the kubelet refuses ${JSON.stringify(r.config)}: ${String(e)}`);
    }
  }
  return rendered;
}

function pathOk(path: string, known: Set<string>): boolean {
  if (path === '(document)') return true;
  for (const top of known) if (path === top || path.startsWith(`${top}.`) || path.startsWith(`${top}[`)) return true;
  return false;
}

test('fuzz: 6,000 seeded policies: never throws, accepted renders for every kubelet 1.25..1.40, rejected names its path', (t) => {
  const rand = prng(0x5eed2026);
  const t0 = performance.now();
  let accepted = 0;
  let rejected = 0;
  let renders = 0;
  const mutations = new Map<string, number>();
  for (let i = 0; i < 6000; i++) {
    const { doc, mutated, applied, unknownTop } = fuzzCase(rand, i);
    for (const m of applied) mutations.set(m.split(' ')[0] ?? m, (mutations.get(m.split(' ')[0] ?? m) ?? 0) + 1);
    const label = `case ${i} [${applied.join('; ') || 'valid'}]`;
    let result: ReturnType<typeof validatePolicy>;
    try {
      result = validatePolicy(doc);
    } catch (e: unknown) {
      assert.fail(`${label}: validatePolicy threw ${String(e)}`);
    }
    if (!mutated) assert.ok(result.ok, `${label}: a valid policy was rejected: ${result.ok ? '' : JSON.stringify(result.errors)}`);
    if (result.ok) {
      accepted++;
      renders += checkAccepted(result.policy.spec, label);
      continue;
    }
    rejected++;
    assert.ok(result.errors.length > 0, `${label}: rejected without errors`);
    const known = new Set(['spec', 'metadata', 'status', 'apiVersion', 'kind', ...unknownTop]);
    for (const e of result.errors) {
      assert.ok(pathOk(e.path, known), `${label}: error path "${e.path}" is under no field of the document (${e.message})`);
      assert.ok(e.message.length > 0, `${label}: empty message at ${e.path}`);
    }
  }
  const ms = performance.now() - t0;
  t.diagnostic(`${accepted} accepted (${renders} renders checked), ${rejected} rejected in ${ms.toFixed(0)} ms; mutations ${JSON.stringify(Object.fromEntries(mutations))}`);
  // Both sides must be exercised, or the properties say nothing.
  assert.ok(accepted > 2000, `only ${accepted} accepted`);
  assert.ok(rejected > 2000, `only ${rejected} rejected`);
  assert.ok(ms < 20_000, `took ${ms.toFixed(0)} ms`);
});

test('validatePolicy never throws on values no JSON parser makes but YAML can: a recursive alias under a typed field', () => {
  // `kto validate` reads YAML: an alias to an enclosing node builds a cyclic object.
  const doc: unknown = parse('apiVersion: nodetracing.dev/v1alpha1\nkind: NodeTracingPolicy\nmetadata: {name: x}\nspec: &s\n  tracing:\n    endpoint: *s\n');
  assert.doesNotThrow(() => validatePolicy(doc));
  const big = { apiVersion: 'nodetracing.dev/v1alpha1', kind: 'NodeTracingPolicy', metadata: { name: 'x' }, spec: { tracing: { samplingRatePerMillion: 10n } } };
  assert.doesNotThrow(() => validatePolicy(big));
});
