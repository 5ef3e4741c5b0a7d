// One verdict: every policy of examples/ and of the fuzz corpora (test/helpers/policy-corpus.ts)
// goes to the embedded API server with the repo's CRD installed (created through client-node over
// HTTP, dry-run, strict field validation as kubectl apply sends it) and to validatePolicy (what
// `kto validate` and the controller run). Both must accept or both reject; where both reject, each
// field the server names must be one `kto validate` names too.

import { strict as assert } from 'node:assert';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { ApiServer, CRDS, type KubeObject } from '../../src/sim/apiserver/index.js';
import { validatePolicy } from '../../src/validate/policy.js';
import { endpointCase, fuzzCase, prng } from '../helpers/policy-corpus.js';

interface Verdict {
  ok: boolean;
  paths: string[];
  text: string;
}

const ROOT = join(import.meta.dirname, '..', '..');

/** Field paths a Status names: causes' fields, or the unknown fields of a strict decoding error. */
function statusPaths(body: { message?: string; details?: { causes?: Array<{ field?: string }> } }): string[] {
  const fromCauses = (body.details?.causes ?? []).map((c) => c.field).filter((f): f is string => f !== undefined && f !== '<nil>');
  const unknown = [...(body.message ?? '').matchAll(/unknown field "([^"]+)"/g)].map((m) => m[1] ?? '');
  const mistyped = [...(body.message ?? '').matchAll(/Go struct field ObjectMeta\.(metadata\.\w+)/g)].map((m) => m[1] ?? '');
  return [...fromCauses, ...unknown, ...mistyped];
}

function cliVerdict(doc: unknown): Verdict {
  const r = validatePolicy(doc);
  return r.ok ? { ok: true, paths: [], text: '' } : { ok: false, paths: r.errors.map((e) => e.path), text: r.errors.map((e) => `${e.path}: ${e.message}`).join('; ') };
}

/** Two paths on one branch (a value and what lies under it). */
const related = (a: string, b: string): boolean => a === b || a.startsWith(`${b}.`) || a.startsWith(`${b}[`) || b.startsWith(`${a}.`) || b.startsWith(`${a}[`);

describe('the API server (repo CRD) and kto validate give the same verdicts', () => {
  const server = new ApiServer();
  let custom: k8s.CustomObjectsApi;

  async function serverVerdict(doc: Record<string, unknown>): Promise<Verdict> {
    // kubectl refuses a document without apiVersion and kind before sending it.
    if (typeof doc['apiVersion'] !== 'string' || typeof doc['kind'] !== 'string' || doc['apiVersion'] === '' || doc['kind'] === '') {
      return { ok: false, paths: [], text: 'kubectl: apiVersion or kind not set' };
    }
    try {
      await custom.createClusterCustomObject({ group: 'nodetracing.dev', version: 'v1alpha1', plural: 'nodetracingpolicies', body: doc, dryRun: 'All', fieldValidation: 'Strict' });
      return { ok: true, paths: [], text: '' };
    } catch (e: unknown) {
      if (!(e instanceof k8s.ApiException)) throw e;
      const body = JSON.parse(String(e.body)) as { code: number; message?: string; details?: { causes?: Array<{ field?: string }> } };
      assert.ok(body.code === 400 || body.code === 422, `unexpected ${body.code}: ${body.message ?? ''}`);
      return { ok: false, paths: statusPaths(body), text: body.message ?? '' };
    }
  }

  async function compare(label: string, doc: Record<string, unknown>): Promise<{ ok: boolean }> {
    const wire = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
    const [srv, cli] = [await serverVerdict(wire), cliVerdict(wire)];
    assert.equal(cli.ok, srv.ok, `${label}: server ${srv.ok ? 'accepts' : `rejects (${srv.text})`}, kto validate ${cli.ok ? 'accepts' : `rejects (${cli.text})`}\n${JSON.stringify(wire).slice(0, 600)}`);
    for (const p of srv.paths) {
      assert.ok(cli.paths.some((c) => related(c, p)), `${label}: the server names ${p} (${srv.text}); kto validate names ${cli.paths.join(', ')} (${cli.text})`);
    }
    return srv;
  }

  /** Runs `n` comparisons, `width` at a time (client-node opens a connection per request). */
  async function corpus(n: number, make: (i: number) => { label: string; doc: Record<string, unknown> }, width = 8): Promise<{ accepted: number; rejected: number }> {
    const cases = Array.from({ length: n }, (_, i) => make(i));
    let accepted = 0;
    for (let i = 0; i < cases.length; i += width) {
      const results = await Promise.all(cases.slice(i, i + width).map((c) => compare(c.label, c.doc)));
      accepted += results.filter((r) => r.ok).length;
    }
    return { accepted, rejected: n - accepted };
  }

  before(async () => {
    await server.start();
    const kc = new k8s.KubeConfig();
    kc.loadFromString(server.kubeconfigYaml());
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    // client-node's model drops x-kubernetes-* keys from a CRD, so the repo's CRD file goes in
    // through the in-process store, as it is.
    const crd = parseAllDocuments(await readFile(join(ROOT, 'crds', 'nodetracingpolicies.nodetracing.dev.yaml'), 'utf8'))[0]?.toJS() as KubeObject;
    server.store.create(CRDS, crd);
  });
  after(async () => {
    await server.stop();
  });

  test('examples/', async () => {
    const files = (await readdir(join(ROOT, 'examples'))).filter((f) => f.endsWith('.yaml'));
    assert.ok(files.length >= 3);
    for (const f of files) {
      for (const d of parseAllDocuments(await readFile(join(ROOT, 'examples', f), 'utf8'))) {
        const r = await compare(f, d.toJS() as Record<string, unknown>);
        assert.ok(r.ok, `${f} is rejected`);
      }
    }
  });

  test('the policy fuzz corpus (test/fuzz/policies.test.ts), all 6,000 cases', async (t) => {
    const rand = prng(0x5eed2026);
    const r = await corpus(6000, (i) => {
      const c = fuzzCase(rand, i);
      return { label: `fuzz case ${i} [${c.applied.join('; ') || 'valid'}]`, doc: c.doc };
    });
    t.diagnostic(`${r.accepted} accepted, ${r.rejected} rejected by both`);
    assert.ok(r.accepted > 2000 && r.rejected > 2000, JSON.stringify(r));
  });

  test('the endpoint corpus (test/core/fuzz.test.ts), all 5,000 cases', async (t) => {
    const rand = prng(20261125);
    const r = await corpus(5000, (i) => ({ label: `endpoint case ${i}`, doc: endpointCase(rand, i) }));
    t.diagnostic(`${r.accepted} accepted, ${r.rejected} rejected by both`);
    assert.ok(r.accepted > 300 && r.rejected > 2000, JSON.stringify(r));
  });
});
