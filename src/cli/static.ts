// kto validate | render | crd: the commands that need no cluster.
import { stringify } from 'yaml';
import { buildCrd, crdYaml } from '../api/crd.js';
import { render } from '../render/render.js';
import { formatFieldError } from '../validate/errors.js';
import { describeSkipped, readPolicySources } from './documents.js';
import { formatted, stdio, type Output, type OutputFormat } from './output.js';

export { stdio, type Output };

/** Exit 0 when every NodeTracingPolicy in the sources is valid, else 1. Other kinds are skipped. */
export async function validateCommand(paths: string[], opts: { output?: OutputFormat } = {}, io: Output = stdio): Promise<number> {
  const { documents, skipped } = await readPolicySources(paths);
  const invalid = documents.filter((d) => d.errors.length > 0);
  const code = invalid.length > 0 ? 1 : 0;
  if (opts.output) {
    io.out(formatted({
      valid: documents.length - invalid.length,
      invalid: invalid.length,
      skipped: skipped.length,
      documents: documents.map((d) => ({ file: d.file, name: d.name, valid: d.errors.length === 0, errors: d.errors })),
      skippedDocuments: skipped,
    }, opts.output));
    return code;
  }
  for (const d of invalid) for (const e of d.errors) io.err(`${d.file}: ${d.name}: ${formatFieldError(e)}\n`);
  const skippedText = describeSkipped(skipped);
  io.out(`${documents.length - invalid.length} valid, ${invalid.length} invalid${skippedText ? `, ${skippedText}` : ''}\n`);
  return code;
}

export async function renderCommand(
  source: string,
  opts: { kubeletVersion: string; name?: string; output?: OutputFormat },
  io: Output = stdio,
): Promise<number> {
  const { documents } = await readPolicySources([source]);
  const candidates = opts.name ? documents.filter((d) => d.name === opts.name) : documents;
  if (candidates.length === 0) {
    io.err(opts.name ? `${source}: no policy named ${JSON.stringify(opts.name)}\n` : `${source}: no policy found\n`);
    return 1;
  }
  if (candidates.length > 1) {
    io.err(`${source}: ${candidates.length} policies; choose one with --name (${candidates.map((d) => d.name).join(', ')})\n`);
    return 1;
  }
  const doc = candidates[0];
  if (!doc?.policy) {
    for (const e of doc?.errors ?? []) io.err(`${doc?.file}: ${doc?.name}: ${formatFieldError(e)}\n`);
    return 1;
  }
  const result = render(doc.policy.spec, opts.kubeletVersion);
  if (opts.output) {
    const body = result.supported
      ? { policy: doc.name, kubeletVersion: opts.kubeletVersion, supported: true, hash: result.hash, config: result.config }
      : { policy: doc.name, kubeletVersion: opts.kubeletVersion, supported: false, reason: result.reason };
    io.out(formatted(body, opts.output));
    return result.supported ? 0 : 1;
  }
  if (!result.supported) {
    io.err(`${doc.file}: ${doc.name}: unsupported node: ${result.reason}\n`);
    return 1;
  }
  io.out(`# ${doc.name} for kubelet ${opts.kubeletVersion}, config hash ${result.hash}\n`);
  io.out(stringify(result.config));
  return 0;
}

export function crdCommand(opts: { output?: OutputFormat } = {}, io: Output = stdio): number {
  io.out(opts.output === 'json' ? formatted(buildCrd(), 'json') : crdYaml());
  return 0;
}
