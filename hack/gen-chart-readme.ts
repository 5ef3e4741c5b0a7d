// Generates charts/kubelet-tracing-operator/README.md from Chart.yaml, values.yaml and
// hack/chart-readme.tmpl.md, the way helm-docs does (helm-docs itself cannot be installed here):
// a value is documented by the `# -- description` comment block right above its key, continued on
// the following comment lines; `# -- (type) description` overrides the type shown. A documented
// map is one row (its default is the whole map); an undocumented map is walked into. Every value
// must be documented, directly or through a documented parent: the generator fails otherwise.
//
//   node --import tsx hack/gen-chart-readme.ts           # write the README
//   node --import tsx hack/gen-chart-readme.ts --check   # exit 1 when it is stale (test/chart does this too)
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, type Node, parse, parseDocument, type YAMLMap } from 'yaml';

export const CHART_DIR = 'charts/kubelet-tracing-operator';
export const README_FILE = `${CHART_DIR}/README.md`;
const TEMPLATE_FILE = 'hack/chart-readme.tmpl.md';

export interface ValueRow {
  key: string;
  type: string;
  defaultValue: unknown;
  description: string;
}

/** The description of a `# --` block (yaml hands comments over without their '#'), or undefined. */
function describe(comment: string | null | undefined): { type?: string; text: string } | undefined {
  if (!comment) return undefined;
  const lines = comment.split('\n').map((l) => l.trim());
  const start = lines.map((l) => l.startsWith('-- ') || l === '--').lastIndexOf(true);
  if (start < 0) return undefined;
  const text = [(lines[start] ?? '').slice(2).trim(), ...lines.slice(start + 1)].join(' ').replace(/\s+/g, ' ').trim();
  const typed = /^\((\w+)\)\s*(.*)$/.exec(text);
  return typed ? { type: typed[1], text: typed[2] ?? '' } : { text };
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'object';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'boolean') return 'bool';
  return 'string';
}

/** Rows for every documented value, in file order; throws naming each undocumented one. */
export function valueRows(valuesYaml: string): ValueRow[] {
  const doc = parseDocument(valuesYaml);
  if (doc.errors.length > 0) throw new Error(`values.yaml: ${doc.errors.map((e) => e.message).join('; ')}`);
  const rows: ValueRow[] = [];
  const undocumented: string[] = [];
  const walk = (map: YAMLMap, prefix: string): void => {
    map.items.forEach((pair, i) => {
      if (!isScalar(pair.key)) throw new Error(`${prefix}: a key that is not a scalar`);
      const key = `${prefix}${String(pair.key.value)}`;
      // The first key's comment sits on its map (or, at the top, after the file's header).
      const d = describe(pair.key.commentBefore ?? (i === 0 ? map.commentBefore : undefined));
      const value = pair.value as Node | null;
      if (d) {
        const plain: unknown = value && (isMap(value) || isSeq(value) || isScalar(value)) ? value.toJSON() : null;
        rows.push({ key, type: d.type ?? typeName(plain), defaultValue: plain, description: d.text });
      } else if (value && isMap(value) && value.items.length > 0) {
        walk(value, `${key}.`);
      } else {
        undocumented.push(key);
      }
    });
  };
  if (!isMap(doc.contents)) throw new Error('values.yaml: not a map');
  walk(doc.contents, '');
  if (undocumented.length > 0) throw new Error(`values.yaml: no "# --" description for ${undocumented.join(', ')}`);
  return rows;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function valuesTable(rows: ValueRow[]): string {
  const out = ['| Key | Type | Default | Description |', '|-----|------|---------|-------------|'];
  for (const r of rows) out.push(`| ${r.key} | ${r.type} | \`${cell(JSON.stringify(r.defaultValue))}\` | ${cell(r.description)} |`);
  return out.join('\n');
}

interface ChartMeta {
  name: string;
  version: string;
  appVersion: string;
  description: string;
  kubeVersion?: string;
  home?: string;
  sources?: string[];
  maintainers?: Array<{ name: string; email?: string; url?: string }>;
}

export function generate(root = new URL('../', import.meta.url)): string {
  const read = (p: string) => readFileSync(new URL(p, root), 'utf8');
  const chart = parse(read(`${CHART_DIR}/Chart.yaml`)) as ChartMeta;
  const fields: Record<string, string> = {
    name: chart.name,
    version: chart.version,
    appVersion: chart.appVersion,
    description: chart.description,
    kubeVersion: chart.kubeVersion ?? 'any',
    home: chart.home ?? '',
    sources: (chart.sources ?? []).map((s) => `- <${s}>`).join('\n'),
    maintainers: (chart.maintainers ?? []).map((m) => `| ${m.name} | ${m.email ?? ''} | ${m.url ? `<${m.url}>` : ''} |`).join('\n'),
    values: valuesTable(valueRows(read(`${CHART_DIR}/values.yaml`))),
  };
  return read(TEMPLATE_FILE).replace(/\{\{\s*(\w+)\s*\}\}/g, (m, k: string) => {
    const v = fields[k];
    if (v === undefined) throw new Error(`${TEMPLATE_FILE}: unknown placeholder ${m}`);
    return v;
  });
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const target = new URL(`../${README_FILE}`, import.meta.url);
  const doc = generate();
  if (process.argv.includes('--check')) {
    const current = await readFile(target, 'utf8').catch(() => '');
    if (current !== doc) {
      process.stderr.write(`${README_FILE} is stale: run node --import tsx hack/gen-chart-readme.ts\n`);
      process.exit(1);
    }
  } else {
    await writeFile(target, doc);
    process.stdout.write(`wrote ${README_FILE}\n`);
  }
}
