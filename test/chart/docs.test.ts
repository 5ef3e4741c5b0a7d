// docs/: the NodeTracingPolicy reference is the generator's output (hack/gen-docs.ts), every policy
// shown in the docs passes the project's own validator, the Argo CD health check and the CI
// example parse, and relative links resolve.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { DOC_FILE, generate } from '../../hack/gen-docs.js';
import { validatePolicy } from '../../src/validate/policy.js';
import { ROOT } from './render.js';

const DOCS = join(ROOT, 'docs');
const docs = readdirSync(DOCS).filter((f) => f.endsWith('.md')).sort();
const blocks = (md: string, lang: string): string[] =>
  [...md.matchAll(new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```$', 'gm'))].map((m) => m[1]!);

test('docs/configuration.md is exactly the output of hack/gen-docs.ts (run it after changing src/api/schema.ts)', () => {
  assert.equal(readFileSync(join(ROOT, DOC_FILE), 'utf8'), generate());
});

test('the reference lists every spec field of the schema', () => {
  const doc = readFileSync(join(ROOT, DOC_FILE), 'utf8');
  for (const f of ['spec.nodeSelector.matchLabels', 'spec.tracing.endpoint', 'spec.tracing.samplingRatePerMillion', 'spec.featureGate', 'spec.priority', 'spec.rollout.maxUnavailable', 'spec.rollout.verify', 'spec.rollout.drift', 'status.drifted', 'status.observedGeneration', 'status.conditions']) {
    assert.ok(doc.includes(`| \`${f}\` |`), f);
  }
});

test('the docs exist', () => {
  for (const f of ['configuration.md', 'troubleshooting.md', 'security.md', 'gitops.md', 'upgrades.md']) assert.ok(docs.includes(f), f);
});

test('every NodeTracingPolicy in the docs passes validatePolicy; every YAML block parses', () => {
  let policies = 0;
  for (const f of docs) {
    for (const block of blocks(readFileSync(join(DOCS, f), 'utf8'), 'yaml')) {
      for (const d of parseAllDocuments(block)) {
        assert.deepEqual(d.errors, [], `${f}: ${block.slice(0, 80)}`);
        const v = d.toJS() as { kind?: string } | null;
        if (v?.kind === 'NodeTracingPolicy') {
          policies++;
          const r = validatePolicy(v);
          assert.ok(r.ok, `${f}: ${JSON.stringify(r.ok ? '' : r.errors)}`);
        }
      }
    }
  }
  assert.ok(policies >= 2, `only ${policies} policies in the docs`);
});

test('gitops.md: the Argo CD health check covers Healthy/Degraded/Progressing; the CI example runs kto validate', () => {
  const md = readFileSync(join(DOCS, 'gitops.md'), 'utf8');
  const lua = blocks(md, 'lua').join('\n');
  for (const s of ['"Healthy"', '"Degraded"', '"Progressing"', 'observedGeneration', 'Stalled', 'Ready']) assert.ok(lua.includes(s), s);
  const ci = blocks(md, 'yaml').map((b) => parseAllDocuments(b)[0]!.toJS() as Record<string, unknown>).find((b) => b && 'jobs' in b);
  assert.ok(ci, 'no GitHub Actions workflow in gitops.md');
  assert.match(JSON.stringify(ci), /kto validate/);
});

test('relative links in docs/ resolve', () => {
  for (const f of docs) {
    const md = readFileSync(join(DOCS, f), 'utf8');
    for (const m of md.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      assert.ok(existsSync(join(dirname(join(DOCS, f)), target)), `${f}: ${target}`);
    }
  }
});

const lua = ['lua5.4', 'lua5.3', 'lua'].find((b) => !spawnSync(b, ['-v']).error);

test('gitops.md: the Argo CD Lua health check gives the documented verdicts', { skip: lua ? false : 'no lua interpreter installed' }, () => {
  const body = blocks(readFileSync(join(DOCS, 'gitops.md'), 'utf8'), 'lua')[0]!;
  const cases: [string, object, string][] = [
    ['no status', { metadata: { generation: 1 } }, 'Progressing'],
    ['stale status', { metadata: { generation: 2 }, status: { observedGeneration: 1, conditions: [['Ready', 'True']] } }, 'Progressing'],
    ['ready', { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [['Ready', 'True'], ['Stalled', 'False'], ['Degraded', 'False']] } }, 'Healthy'],
    ['ready with failures', { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [['Ready', 'True'], ['Degraded', 'True']] } }, 'Degraded'],
    ['stalled', { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [['Ready', 'False'], ['Stalled', 'True']] } }, 'Degraded'],
    ['rolling', { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [['Ready', 'False'], ['Reconciling', 'True']] } }, 'Progressing'],
    ['done with tolerated failures', { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [['Ready', 'True', 'RolloutComplete'], ['Reconciling', 'False'], ['Stalled', 'False'], ['Degraded', 'True', 'NodesFailed']] } }, 'Degraded'],
    ['no target nodes', { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [['Ready', 'False', 'NoTargetNodes'], ['Reconciling', 'False'], ['Stalled', 'False'], ['Degraded', 'False']] } }, 'Degraded'],
    ['drift reported only', { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [['Ready', 'True', 'RolloutComplete'], ['Reconciling', 'False'], ['Stalled', 'False'], ['Degraded', 'True', 'NodesDrifted']] } }, 'Degraded'],
    ['drift being repaired', { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [['Ready', 'False', 'RolloutInProgress'], ['Reconciling', 'True'], ['Stalled', 'False'], ['Degraded', 'True', 'NodesDrifted']] } }, 'Degraded'],
    ['being deleted', { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [['Ready', 'False', 'RemovingConfiguration'], ['Reconciling', 'True'], ['Stalled', 'False']] } }, 'Progressing'],
    ['paused', { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [['Ready', 'False', 'RolloutPaused'], ['Reconciling', 'False'], ['Stalled', 'False']] } }, 'Progressing'],
  ];
  const luaValue = (v: unknown): string => {
    if (Array.isArray(v) && typeof v[0] === 'string') return `{type=${JSON.stringify(v[0])},status=${JSON.stringify(v[1])},reason=${JSON.stringify(v[2] ?? 'R')},message="m"}`;
    if (Array.isArray(v)) return `{${v.map(luaValue).join(',')}}`;
    if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${k}=${luaValue(x)}`).join(',')}}`;
    return JSON.stringify(v);
  };
  const script = `local function check(obj)\n${body}\nend\n${cases.map(([, obj]) => `print(check(${luaValue(obj)}).status)`).join('\n')}\n`;
  const r = spawnSync(lua!, ['-'], { input: script, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), cases.map((c) => c[2]), cases.map((c) => c[0]).join(', '));
});
