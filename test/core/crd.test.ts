import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { parse } from 'yaml';
import { buildCrd, CRD_FILE, crdYaml } from '../../src/api/crd.js';

test('the committed CRD is exactly what the generator produces (run `npm run gen`)', async () => {
  const committed = await readFile(new URL(`../../${CRD_FILE}`, import.meta.url), 'utf8');
  assert.equal(committed, crdYaml());
});

function walk(node: unknown, path: string, visit: (n: Record<string, unknown>, p: string) => void): void {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
  const n = node as Record<string, unknown>;
  visit(n, path);
  for (const [k, v] of Object.entries((n.properties as Record<string, unknown>) ?? {})) walk(v, `${path}.${k}`, visit);
  if (n.items) walk(n.items, `${path}[]`, visit);
  if (n.additionalProperties && typeof n.additionalProperties === 'object') walk(n.additionalProperties, `${path}{}`, visit);
}

test('the CRD schema is structural: every node typed, no additionalProperties beside properties', () => {
  const schema = (parse(crdYaml()) as { spec: { versions: Array<{ schema: { openAPIV3Schema: unknown } }> } }).spec.versions[0]?.schema.openAPIV3Schema;
  const problems: string[] = [];
  walk(schema, '', (n, p) => {
    if (n.type === undefined && n['x-kubernetes-int-or-string'] !== true) problems.push(`${p}: no type`);
    if (n.properties && n.additionalProperties !== undefined) problems.push(`${p}: properties and additionalProperties`);
    if (n.additionalProperties === false) problems.push(`${p}: additionalProperties false`);
  });
  assert.deepEqual(problems, []);
});

test('the CRD has the names, scope, status subresource and printer columns kubectl shows', () => {
  const crd = buildCrd() as {
    spec: { scope: string; names: { shortNames: string[]; kind: string }; versions: Array<{ subresources: unknown; additionalPrinterColumns: Array<{ name: string }> }> };
  };
  assert.equal(crd.spec.scope, 'Cluster');
  assert.deepEqual(crd.spec.names.shortNames, ['ntp']);
  assert.equal(crd.spec.names.kind, 'NodeTracingPolicy');
  const v = crd.spec.versions[0];
  assert.deepEqual(v?.subresources, { status: {} });
  assert.deepEqual(v?.additionalPrinterColumns.map((c) => c.name), ['Target', 'Updated', 'Failed', 'Ready', 'Reason', 'Age']);
  assert.deepEqual((crd.spec.names as { categories?: string[] }).categories, ['nodetracing']);
});

test('every spec field has a description, so kubectl explain is useful', () => {
  const schema = (buildCrd() as { spec: { versions: Array<{ schema: { openAPIV3Schema: unknown } }> } }).spec.versions[0]?.schema.openAPIV3Schema as { properties: { spec: unknown } };
  const missing: string[] = [];
  walk(schema.properties.spec, 'spec', (n, p) => {
    if (!p.includes('[]') && !p.includes('{}') && typeof n.description !== 'string') missing.push(p);
  });
  assert.deepEqual(missing, []);
});
