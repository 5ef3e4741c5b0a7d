// kto validate | render | crd: the commands that need no cluster.
import { stringify } from 'yaml';
import { crdYaml } from '../api/crd.js';
import { render } from '../render/render.js';
import { formatFieldError } from '../validate/errors.js';
import { readPolicyFile } from './documents.js';

export interface Output {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const stdio: Output = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

/** Exit 0 when every document in every file is a valid policy, else 1. */
export async function validateCommand(files: string[], io: Output = stdio): Promise<number> {
  let bad = 0;
  let good = 0;
  for (const file of files) {
    for (const doc of await readPolicyFile(file)) {
      if (doc.errors.length === 0) {
        good++;
        continue;
      }
      bad++;
      for (const e of doc.errors) io.err(`${file}: ${doc.name}: ${formatFieldError(e)}\n`);
    }
  }
  io.out(`${good} valid, ${bad} invalid\n`);
  return bad > 0 ? 1 : 0;
}

export async function renderCommand(
  file: string,
  opts: { kubeletVersion: string; name?: string },
  io: Output = stdio,
): Promise<number> {
  const docs = await readPolicyFile(file);
  const candidates = opts.name ? docs.filter((d) => d.name === opts.name) : docs;
  if (candidates.length === 0) {
    io.err(opts.name ? `${file}: no policy named ${JSON.stringify(opts.name)}\n` : `${file}: no policy found\n`);
    return 1;
  }
  if (candidates.length > 1) {
    io.err(`${file}: ${candidates.length} policies; choose one with --name (${candidates.map((d) => d.name).join(', ')})\n`);
    return 1;
  }
  const doc = candidates[0];
  if (!doc?.policy) {
    for (const e of doc?.errors ?? []) io.err(`${file}: ${doc?.name}: ${formatFieldError(e)}\n`);
    return 1;
  }
  const result = render(doc.policy.spec, opts.kubeletVersion);
  if (!result.supported) {
    io.err(`${file}: ${doc.name}: unsupported node: ${result.reason}\n`);
    return 1;
  }
  io.out(`# ${doc.name} for kubelet ${opts.kubeletVersion}, config hash ${result.hash}\n`);
  io.out(stringify(result.config));
  return 0;
}

export function crdCommand(io: Output = stdio): number {
  io.out(crdYaml());
  return 0;
}
