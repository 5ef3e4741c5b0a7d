// Renders the Helm chart without helm: builds hack/helm-template (Go text/template + sprig, the
// engine helm uses) once, caches the binary under os.tmpdir() keyed by a hash of its source, and
// runs it. See hack/helm-template/main.go and shared STACK.md "Helm charts without helm".

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHART = join(ROOT, 'charts', 'kubelet-tracing-operator');
const SRC = join(ROOT, 'hack', 'helm-template', 'main.go');
export const GOPATH = '/usr/share/gocode';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

function goEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GO111MODULE: 'off',
    GOPATH,
    GOCACHE: process.env.GOCACHE ?? join(tmpdir(), 'kto-go-build-cache'),
    GOFLAGS: '',
  };
}

/** Why the chart cannot be rendered here, or undefined when it can. */
export function missingToolchain(): string | undefined {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) return 'go toolchain not installed';
  if (!existsSync(join(GOPATH, 'src', 'github.com', 'Masterminds', 'sprig'))) return 'go toolchain not installed (sprig sources missing)';
  if (!existsSync(join(GOPATH, 'src', 'sigs.k8s.io', 'yaml'))) return 'go toolchain not installed (sigs.k8s.io/yaml sources missing)';
  return undefined;
}

let binary: string | undefined;

/** Builds (or reuses) the renderer; returns its path. */
export function rendererBinary(): string {
  if (binary) return binary;
  const hash = createHash('sha256').update(readFileSync(SRC)).update(process.version).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `kto-helm-template-${hash}`);
  const bin = join(dir, 'helm-template');
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${bin}.${process.pid}.tmp`;
    const r = spawnSync('go', ['build', '-o', tmp, './hack/helm-template'], { cwd: ROOT, env: goEnv(), encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`go build ./hack/helm-template failed:\n${r.stderr}${r.stdout}`);
    renameSync(tmp, bin); // atomic: a concurrent run sees the old state or a complete binary
  }
  binary = bin;
  return bin;
}

export interface RenderOptions {
  namespace?: string;
  name?: string;
  kubeVersion?: string;
  notes?: boolean;
}

export interface RenderResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the renderer with `values` (a JSON object merged over values.yaml). */
export function renderRaw(values: object = {}, o: RenderOptions = {}): RenderResult {
  const args = [CHART, '--name', o.name ?? 'kto', '--namespace', o.namespace ?? 'kto-system', '--set-json', JSON.stringify(values)];
  if (o.kubeVersion) args.push('--kube-version', o.kubeVersion);
  if (o.notes) args.push('--notes');
  const r = spawnSync(rendererBinary(), args, { encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Renders and parses; throws on a render error or a YAML error in any document. */
export function render(values: object = {}, o: RenderOptions = {}): { text: string; objects: K8sObject[] } {
  const r = renderRaw(values, o);
  if (r.status !== 0) throw new Error(`render failed (${r.status}): ${r.stderr}`);
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(r.stdout, { uniqueKeys: true })) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
    if (doc.warnings.length > 0) throw new Error(`YAML warnings: ${doc.warnings.map((e) => e.message).join('; ')}`);
    const v = doc.toJS() as K8sObject | null;
    if (v === null) continue;
    objects.push(v);
  }
  return { text: r.stdout, objects };
}

export function find(objects: K8sObject[], kind: string, nameSuffix = ''): K8sObject[] {
  return objects.filter((o) => o.kind === kind && o.metadata.name.endsWith(nameSuffix));
}

export function one(objects: K8sObject[], kind: string, nameSuffix = ''): K8sObject {
  const found = find(objects, kind, nameSuffix);
  if (found.length !== 1) throw new Error(`expected one ${kind} *${nameSuffix}, found ${found.length}`);
  return found[0]!;
}
