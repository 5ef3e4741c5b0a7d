// Reading policy sources: files, directories (recursively, *.yaml/*.yml/*.json) and `-` (stdin),
// each multi-document YAML or JSON. Every problem is reported, nothing thrown. A stream of many
// kinds (`kustomize build | kto validate -`) is fine: documents of other kinds are skipped and
// counted, and a `kind: List` (what `kubectl get -o yaml` prints) is read item by item.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { GROUP, KIND } from '../api/types.js';
import { validatePolicy } from '../validate/policy.js';
import type { NodeTracingPolicy } from '../api/types.js';
import type { FieldError } from '../validate/errors.js';

/** How standard input is named in messages. */
export const STDIN_NAME = '<stdin>';

export interface DocumentReport {
  file: string;
  /** metadata.name, or "document N" when the document has none. */
  name: string;
  policy?: NodeTracingPolicy;
  errors: FieldError[];
}

/** A document of another kind, left alone. */
export interface SkippedDocument {
  file: string;
  kind: string;
  name: string;
}

export interface PolicySources {
  documents: DocumentReport[];
  skipped: SkippedDocument[];
}

const EXTENSIONS = /\.(ya?ml|json)$/i;

export function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d: string) => (text += d));
    process.stdin.on('end', () => resolve(text));
    process.stdin.on('error', reject);
  });
}

/** Every file under dir whose name ends in .yaml, .yml or .json, in path order. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && EXTENSIONS.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

export async function readPolicySources(paths: string[], stdin: () => Promise<string> = readStdin): Promise<PolicySources> {
  const out: PolicySources = { documents: [], skipped: [] };
  let stdinText: Promise<string> | undefined;
  for (const path of paths) {
    if (path === '-') {
      stdinText ??= stdin();
      readText(STDIN_NAME, await stdinText, out);
      continue;
    }
    const kind = await stat(path).then((s) => (s.isDirectory() ? 'dir' : 'file'), (err: unknown) => err as NodeJS.ErrnoException);
    if (kind === 'dir') {
      for (const file of await filesUnder(path)) await readOne(file, out);
    } else if (kind === 'file') {
      await readOne(path, out);
    } else {
      out.documents.push({ file: path, name: '-', errors: [{ path: '(file)', message: kind.code === 'ENOENT' ? 'no such file' : kind.message }] });
    }
  }
  return out;
}

async function readOne(file: string, out: PolicySources): Promise<void> {
  try {
    readText(file, await readFile(file, 'utf8'), out);
  } catch (err) {
    out.documents.push({ file, name: '-', errors: [{ path: '(file)', message: err instanceof Error ? err.message : String(err) }] });
  }
}

function readText(file: string, text: string, out: PolicySources): void {
  parseAllDocuments(text, { prettyErrors: true }).forEach((doc, i) => {
    const fallbackName = `document ${i + 1}`;
    if (doc.errors.length > 0) {
      out.documents.push({
        file,
        name: fallbackName,
        errors: doc.errors.map((e) => ({ path: '(yaml)', message: e.message.split('\n')[0] ?? e.message })),
      });
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return; // an empty document between separators
    if (isList(value)) value.items.forEach((item, j) => readObject(file, item, `${fallbackName} item ${j + 1}`, out));
    else readObject(file, value, fallbackName, out);
  });
}

function readObject(file: string, value: unknown, fallbackName: string, out: PolicySources): void {
  const name = nameOf(value) ?? fallbackName;
  const other = otherKind(value);
  if (other !== undefined) {
    out.skipped.push({ file, kind: other, name });
    return;
  }
  const result = validatePolicy(value);
  out.documents.push(result.ok ? { file, name, policy: result.policy, errors: [] } : { file, name, errors: result.errors });
}

function isList(value: unknown): value is { items: unknown[] } {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { kind?: unknown; items?: unknown };
  return typeof v.kind === 'string' && v.kind.endsWith('List') && Array.isArray(v.items);
}

/** The kind of a Kubernetes object that is not ours; undefined for ours, or for anything that
 *  does not say what it is (validated, so a policy missing its kind is still reported). */
function otherKind(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { kind, apiVersion } = value as { kind?: unknown; apiVersion?: unknown };
  if (typeof kind !== 'string' || kind === '' || kind === KIND) return undefined;
  if (typeof apiVersion === 'string' && apiVersion.split('/')[0] === GROUP) return undefined;
  return kind;
}

function nameOf(value: unknown): string | undefined {
  const md = (value as { metadata?: { name?: unknown } } | null)?.metadata;
  return typeof md?.name === 'string' && md.name ? md.name : undefined;
}

/** "3 skipped (not a NodeTracingPolicy: 2 ConfigMap, 1 Deployment)", or '' for none. */
export function describeSkipped(skipped: SkippedDocument[]): string {
  if (skipped.length === 0) return '';
  const byKind = new Map<string, number>();
  for (const s of skipped) byKind.set(s.kind, (byKind.get(s.kind) ?? 0) + 1);
  const kinds = [...byKind].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, n]) => `${n} ${k}`).join(', ');
  return `${skipped.length} skipped (not a NodeTracingPolicy: ${kinds})`;
}
