// Generates docs/configuration.md, the NodeTracingPolicy reference, from src/api/schema.ts (the
// one schema the CRD and the validator are built from): `node --import tsx hack/gen-docs.ts`.
// `--check` exits 1 when the committed file differs; test/chart/docs.test.ts does the same.
import { readFile, writeFile } from 'node:fs/promises';
import { crdSchema, type JsonSchema } from '../src/api/schema.js';

export const DOC_FILE = 'docs/configuration.md';

interface Row {
  path: string;
  type: string;
  required: boolean;
  defaultValue: string;
  constraints: string;
  description: string;
}

const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
/** A schema value as written in the docs: strings as they are, anything else as JSON. */
const lit = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
const code = (v: unknown): string => `\`${lit(v)}\``;

function typeOf(s: JsonSchema): string {
  if (s['x-kubernetes-int-or-string']) return 'integer or string';
  if (Array.isArray(s.anyOf)) return (s.anyOf as JsonSchema[]).map(typeOf).join(' or ');
  const t = s.type as string | undefined;
  if (t === 'array') {
    const items = s.items as JsonSchema | undefined;
    return `[]${items ? typeOf(items) : 'any'}`;
  }
  if (t === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object' && !s.properties) {
    return `map[string]${typeOf(s.additionalProperties as JsonSchema)}`;
  }
  return t ?? 'any';
}

function constraintsOf(s: JsonSchema): string {
  const c: string[] = [];
  if (Array.isArray(s.enum)) c.push(`one of ${(s.enum as unknown[]).map(code).join(', ')}`);
  if (s.minimum !== undefined && s.maximum !== undefined) c.push(`${lit(s.minimum)}..${lit(s.maximum)}`);
  else if (s.minimum !== undefined) c.push(`>= ${lit(s.minimum)}${s.pattern ? ' (integer)' : ''}`);
  else if (s.maximum !== undefined) c.push(`<= ${lit(s.maximum)}`);
  if (s.pattern !== undefined) c.push(`string matching ${code(s.pattern)}`);
  if (s.minLength !== undefined) c.push(`length >= ${lit(s.minLength)}`);
  if (s.maxLength !== undefined) c.push(`length <= ${lit(s.maxLength)}`);
  if (s.maxItems !== undefined) c.push(`at most ${lit(s.maxItems)} items`);
  if (s.maxProperties !== undefined) c.push(`at most ${lit(s.maxProperties)} entries`);
  const values = s.additionalProperties;
  if (values && typeof values === 'object' && (values as JsonSchema).pattern !== undefined) {
    c.push(`values: string matching ${code((values as JsonSchema).pattern)}`);
  }
  if (s.format !== undefined) c.push(`format ${lit(s.format)}`);
  for (const v of (s['x-kubernetes-validations'] as { message?: string; rule: string }[] | undefined) ?? []) {
    c.push(v.message ?? `rule ${code(v.rule)}`);
  }
  return c.join('; ');
}

function walk(s: JsonSchema, path: string, required: boolean, rows: Row[]): void {
  rows.push({
    path,
    type: typeOf(s),
    required,
    defaultValue: s.default === undefined ? '' : code(s.default),
    constraints: constraintsOf(s),
    description: lit(s.description ?? ''),
  });
  const props = s.properties as Record<string, JsonSchema> | undefined;
  if (props) {
    const req = new Set((s.required as string[] | undefined) ?? []);
    for (const [k, sub] of Object.entries(props)) walk(sub, `${path}.${k}`, req.has(k), rows);
  }
  const items = s.items as JsonSchema | undefined;
  if (items?.properties) {
    const req = new Set((items.required as string[] | undefined) ?? []);
    for (const [k, sub] of Object.entries(items.properties as Record<string, JsonSchema>)) walk(sub, `${path}[].${k}`, req.has(k), rows);
  }
}

function table(rows: Row[]): string {
  const out = ['| Field | Type | Required | Default | Constraints | Description |', '|---|---|---|---|---|---|'];
  for (const r of rows) {
    out.push(`| \`${r.path}\` | ${esc(r.type)} | ${r.required ? 'yes' : ''} | ${esc(r.defaultValue)} | ${esc(r.constraints)} | ${esc(r.description)} |`);
  }
  return out.join('\n');
}

export function generate(): string {
  const { spec, status } = crdSchema.properties as Record<string, JsonSchema | undefined>;
  if (!spec || !status) throw new Error('src/api/schema.ts: crdSchema.properties must have spec and status');
  const specRows: Row[] = [];
  walk(spec, 'spec', true, specRows);
  const statusRows: Row[] = [];
  walk(status, 'status', false, statusRows);
  return `<!-- Generated from src/api/schema.ts by \`node --import tsx hack/gen-docs.ts\`. Do not edit by hand:
     test/chart/docs.test.ts fails when this file and the generator disagree. -->
# NodeTracingPolicy reference

\`apiVersion: nodetracing.dev/v1alpha1\`, \`kind: NodeTracingPolicy\`, cluster-scoped (short name
\`ntp\`). ${esc(lit(crdSchema.description ?? ''))}

The same schema is the CRD's \`openAPIV3Schema\` (\`crds/\`, \`kto crd\`) and the validator behind
\`kto validate\`, so the API server and the CLI accept exactly the same documents. The rules a
JSON schema keyword cannot say (label key syntax, selector operators, the endpoint forms the
kubelet and gRPC accept) are CEL \`x-kubernetes-validations\` in the CRD, so \`kubectl apply\`
rejects a bad policy with the field named; \`kto validate\` evaluates the same rules offline.

\`\`\`yaml
apiVersion: nodetracing.dev/v1alpha1
kind: NodeTracingPolicy
metadata:
  name: workers
spec:
  nodeSelector:
    matchLabels: {node-role.kubernetes.io/worker: ""}
  tracing:
    endpoint: otel-collector.observability.svc:4317
    samplingRatePerMillion: 10000
  featureGate: Auto
  rollout:
    maxUnavailable: 1
    minReadySeconds: 30
\`\`\`

## spec

${table(specRows)}

## status

Written by the controller only; kstatus-compatible (\`observedGeneration\` plus the \`Ready\`,
\`Reconciling\` and \`Stalled\` conditions; see [gitops.md](gitops.md)).

${table(statusRows)}
`;
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const target = new URL(`../${DOC_FILE}`, import.meta.url);
  const doc = generate();
  if (process.argv.includes('--check')) {
    const current = await readFile(target, 'utf8').catch(() => '');
    if (current !== doc) {
      process.stderr.write(`${DOC_FILE} is stale: run node --import tsx hack/gen-docs.ts\n`);
      process.exit(1);
    }
  } else {
    await writeFile(target, doc);
    process.stdout.write(`wrote ${DOC_FILE}\n`);
  }
}
