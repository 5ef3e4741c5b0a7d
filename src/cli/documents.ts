// Reading policy files: multi-document YAML (or JSON), every problem reported, nothing thrown.
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { validatePolicy } from '../validate/policy.js';
import type { NodeTracingPolicy } from '../api/types.js';
import type { FieldError } from '../validate/errors.js';

export interface DocumentReport {
  file: string;
  /** metadata.name, or "document N" when the document has none. */
  name: string;
  policy?: NodeTracingPolicy;
  errors: FieldError[];
}

export async function readPolicyFile(file: string): Promise<DocumentReport[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return [{ file, name: '-', errors: [{ path: '(file)', message: code === 'ENOENT' ? 'no such file' : String(err) }] }];
  }
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const reports: DocumentReport[] = [];
  list.forEach((doc, i) => {
    const fallbackName = `document ${i + 1}`;
    if (doc.errors.length > 0) {
      reports.push({
        file,
        name: fallbackName,
        errors: doc.errors.map((e) => ({ path: '(yaml)', message: e.message.split('\n')[0] ?? e.message })),
      });
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return; // an empty document between separators
    const name = nameOf(value) ?? fallbackName;
    const result = validatePolicy(value);
    reports.push(result.ok ? { file, name, policy: result.policy, errors: [] } : { file, name, errors: result.errors });
  });
  return reports;
}

function nameOf(value: unknown): string | undefined {
  const md = (value as { metadata?: { name?: unknown } }).metadata;
  return typeof md?.name === 'string' && md.name ? md.name : undefined;
}
