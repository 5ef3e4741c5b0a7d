import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { CRD_FILE } from '../../src/api/crd.js';
import { CLI, run, runKto } from '../helpers/cli.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kto-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

test('kto validate: the shipped examples are valid (exit 0)', async () => {
  const r = await runKto(['validate', 'examples/basic.yaml', 'examples/workers-canary.yaml', 'examples/local-agent.yaml', 'examples/drift-report.yaml']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /4 valid, 0 invalid/);
});

test('kto validate: multi-document file, every error as FILE: name: path: message, exit 1', async () => {
  const p = await file('multi.yaml', `apiVersion: nodetracing.dev/v1alpha1
kind: NodeTracingPolicy
metadata: {name: good}
spec: {tracing: {}}
---
apiVersion: nodetracing.dev/v1alpha1
kind: NodeTracingPolicy
metadata: {name: bad}
spec:
  tracing: {endpoint: "http://otel:4317", samplingRatePerMillion: 2000000}
---
`);
  const r = await runKto(['validate', p]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`^${p}: bad: spec.tracing.endpoint: scheme "http" is not accepted by the kubelet`, 'm'));
  assert.match(r.stderr, new RegExp(`^${p}: bad: spec.tracing.samplingRatePerMillion: must be <= 1000000`, 'm'));
  assert.doesNotMatch(r.stderr, /: good:/);
  assert.match(r.stdout, /1 valid, 1 invalid/);
});

test('kto validate: unparseable YAML is an error (exit 1), not a crash', async () => {
  const p = await file('broken.yaml', 'apiVersion: [unclosed\nkind: : :\n');
  const r = await runKto(['validate', p]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`${p}: document 1: \\(yaml\\): `));
  assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/); // no stack trace
});

test('kto validate: a missing file is reported, exit 1', async () => {
  const r = await runKto(['validate', join(dir, 'nope.yaml')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /nope\.yaml: -: \(file\): no such file/);
});

test('kto validate: usage errors exit 2', async () => {
  assert.equal((await runKto(['validate'])).code, 2);
  assert.equal((await runKto(['no-such-command'])).code, 2);
  assert.equal((await runKto(['validate', '--bogus-flag', 'x'])).code, 2);
});

test('kto render: prints the drop-in for the version', async () => {
  const r = await runKto(['render', 'examples/basic.yaml', '--kubelet-version', 'v1.26.3']);
  assert.equal(r.code, 0, r.stderr);
  const cfg = parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(cfg, {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    featureGates: { KubeletTracing: true },
    tracing: { endpoint: 'otel-collector.observability.svc:4317', samplingRatePerMillion: 10000 },
  });
});

test('kto render: unsupported version exits 1 with the reason', async () => {
  const r = await runKto(['render', 'examples/basic.yaml', '--kubelet-version', 'v1.24.9']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unsupported node: kubelet v1\.24 has no tracing \(needs >= v1\.25\)/);
  assert.equal(r.stdout, '');
});

test('kto render: invalid policy exits 1 naming the field; --name picks a document', async () => {
  const p = await file('two.yaml', `apiVersion: nodetracing.dev/v1alpha1
kind: NodeTracingPolicy
metadata: {name: a}
spec: {tracing: {samplingRatePerMillion: 5}}
---
apiVersion: nodetracing.dev/v1alpha1
kind: NodeTracingPolicy
metadata: {name: b}
spec: {tracing: {endpoint: "https://x"}}
`);
  const ambiguous = await runKto(['render', p, '--kubelet-version', 'v1.30.0']);
  assert.equal(ambiguous.code, 1);
  assert.match(ambiguous.stderr, /choose one with --name \(a, b\)/);
  const bad = await runKto(['render', p, '--kubelet-version', 'v1.30.0', '--name', 'b']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /b: spec\.tracing\.endpoint: scheme "https"/);
  const good = await runKto(['render', p, '--kubelet-version', 'v1.30.0', '--name', 'a']);
  assert.equal(good.code, 0);
  assert.deepEqual((parse(good.stdout) as { tracing: unknown }).tracing, { samplingRatePerMillion: 5 });
});

test('kto crd prints the committed CRD', async () => {
  const r = await runKto(['crd']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, await readFile(CRD_FILE, 'utf8'));
});

test('kto --version prints the package version', async () => {
  const r = await runKto(['--version']);
  assert.equal(r.code, 0, r.stderr);
  const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
  assert.equal(r.stdout.trim(), pkg.version);
});

test('controller and agent: OTLP flags are checked with the protocol they are read for (exit 2)', async () => {
  const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
    [['agent', '--otlp-protocol', 'zipkin'], {}, /argument 'zipkin' is invalid. Allowed choices are grpc, http\/protobuf, http\/json/],
    [['agent', '--otlp-endpoint', 'collector:4318'], {}, /--otlp-endpoint: "collector:4318" is not a URL \(want http:\/\/host:4318 for http\/protobuf\)/],
    [['controller', '--otlp-endpoint', 'http://c:4317/v1/traces', '--otlp-protocol', 'grpc'], {}, /--otlp-endpoint: a gRPC endpoint has no path/],
    // The protocol may come from the environment: the flag is read for it.
    [['controller', '--otlp-endpoint', 'http://c:4317/v1/traces'], { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /a gRPC endpoint has no path/],
  ];
  for (const [args, env, message] of cases) {
    const r = await runKto(args, { env });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('controller: leader-election timings are durations, in client-go order (exit 2 otherwise)', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--lease-duration', '15'], /must be a duration such as 15s, 1m30s or 500ms/],
    [['--retry-period', '0s'], /must be more than 0/],
    [['--lease-duration', '10s'], /--lease-duration must be greater than --renew-deadline/],
    [['--renew-deadline', '2s'], /--renew-deadline must be greater than 1.2 x --retry-period/],
  ];
  for (const [args, message] of cases) {
    const r = await runKto(['controller', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('kto controller: an empty kubeconfig is named and said to be empty (exit 1, no crash text)', async () => {
  const p = await file('empty-kubeconfig', '');
  const r = await runKto(['controller', '--kubeconfig', p, '--metrics-port', '0'], { timeoutMs: 20_000 });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.trim(), `kto: kubeconfig ${p}: the file is empty`);
});

test('kto controller and agent: no kubeconfig anywhere is said plainly (exit 1), not retried forever', async () => {
  const home = join(dir, 'empty-home');
  await mkdir(home, { recursive: true });
  const env = { KUBECONFIG: '', HOME: home, KUBERNETES_SERVICE_HOST: '' };
  const c = await runKto(['controller', '--metrics-port', '0'], { timeoutMs: 20_000, env });
  assert.equal(c.code, 1, c.stdout + c.stderr);
  assert.match(c.stderr, /^kto: no kubeconfig found: pass --kubeconfig FILE, set \$KUBECONFIG/m);
  const a = await runKto(['agent', '--node-name', 'n1', '--metrics-port', '0'], { timeoutMs: 20_000, env });
  assert.equal(a.code, 1, a.stdout + a.stderr);
  assert.match(a.stderr, /no kubeconfig found/);
  const missing = await runKto(['agent', '--node-name', 'n1', '--metrics-port', '0', '--kubeconfig', join(dir, 'nope')], { timeoutMs: 20_000 });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /kubeconfig .*nope: no such file/);
});

const POLICY = (name: string) => `apiVersion: nodetracing.dev/v1alpha1\nkind: NodeTracingPolicy\nmetadata: {name: ${name}}\nspec: {tracing: {samplingRatePerMillion: 1}}\n`;

test('-V and --version print the version', async () => {
  const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
  for (const flag of ['-V', '--version']) assert.equal((await runKto([flag])).stdout.trim(), pkg.version, flag);
});

test('kto validate -: a multi-kind stream (kustomize build | kto validate -) checks the policies and counts what it skipped', async () => {
  const stream = [POLICY('a'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: e}\n', POLICY('b')].join('---\n');
  const r = await run(process.execPath, ['--import', 'tsx', CLI, 'validate', '-'], { input: stream });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '2 valid, 0 invalid, 3 skipped (not a NodeTracingPolicy: 2 ConfigMap, 1 Deployment)\n');
  const bad = await run(process.execPath, ['--import', 'tsx', CLI, 'validate', '-'], { input: `${stream}---\n${POLICY('c').replace('samplingRatePerMillion: 1', 'samplingRatePerMillion: -1')}` });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^<stdin>: c: spec\.tracing\.samplingRatePerMillion: must be >= 0 \(got -1\)$/m);
});

test('kto validate DIR reads *.yaml, *.yml and *.json recursively, and kubectl\'s List', async () => {
  const root = join(dir, 'tree');
  await mkdir(join(root, 'a', 'b'), { recursive: true });
  await writeFile(join(root, 'one.yaml'), POLICY('one'));
  await writeFile(join(root, 'a', 'two.yml'), POLICY('two'));
  await writeFile(join(root, 'a', 'b', 'three.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [parse(POLICY('three')), { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } }] }));
  await writeFile(join(root, 'a', 'README.md'), 'not: a policy\n');
  const r = await runKto(['validate', root, '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { valid: number; invalid: number; skipped: number; documents: Array<{ file: string; name: string }> };
  assert.deepEqual([out.valid, out.invalid, out.skipped], [3, 0, 1]);
  assert.deepEqual(out.documents.map((d) => d.name).sort(), ['one', 'three', 'two']);
});

test('-o json|yaml on validate, render and crd', async () => {
  const p = await file('bad-o.yaml', POLICY('x').replace('samplingRatePerMillion: 1', 'endpoint: "http://c:4317"'));
  const v = await runKto(['validate', p, '-o', 'yaml']);
  assert.equal(v.code, 1);
  const doc = parse(v.stdout) as { invalid: number; documents: Array<{ errors: Array<{ path: string }> }> };
  assert.equal(doc.invalid, 1);
  assert.equal(doc.documents[0]?.errors[0]?.path, 'spec.tracing.endpoint');

  const r = await runKto(['render', 'examples/basic.yaml', '--kubelet-version', 'v1.26.3', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const rendered = JSON.parse(r.stdout) as { policy: string; supported: boolean; hash: string; config: { featureGates: unknown } };
  assert.deepEqual([rendered.policy, rendered.supported, rendered.config.featureGates], ['basic', true, { KubeletTracing: true }]);
  assert.match(rendered.hash, /^[0-9a-f]{16}$/);
  const old = await runKto(['render', 'examples/basic.yaml', '--kubelet-version', 'v1.24.0', '-o', 'json']);
  assert.equal(old.code, 1);
  assert.equal((JSON.parse(old.stdout) as { supported: boolean }).supported, false);

  const crd = await runKto(['crd', '-o', 'json']);
  assert.deepEqual(JSON.parse(crd.stdout), parse(await readFile(CRD_FILE, 'utf8')));
});

test('usage errors exit 2 and name what is valid: a bad --kubelet-version, an unknown flag, a bad -o', async () => {
  const v = await runKto(['render', 'examples/basic.yaml', '--kubelet-version', 'banana']);
  assert.equal(v.code, 2);
  assert.match(v.stderr, /argument 'banana' is invalid\. must be a kubelet version as nodes report it, e\.g\. v1\.29\.3 or 1\.27\.0\+k3s1/);
  const flag = await runKto(['validate', '--outptu', 'json', 'examples/basic.yaml']);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /unknown option '--outptu'\n\(Did you mean --output\?\)/);
  assert.match(flag.stderr, /-o, --output <format>/, 'the help that follows lists the valid flags');
  const o = await runKto(['crd', '-o', 'xml']);
  assert.equal(o.code, 2);
  assert.match(o.stderr, /Allowed choices are json, yaml/);
  const shell = await runKto(['completion', 'fish']);
  assert.equal(shell.code, 2);
  assert.match(shell.stderr, /Allowed choices are bash, zsh/);
});

test('--kubeconfig help states the lookup order loadKubeConfig follows', async () => {
  for (const cmd of ['controller', 'agent', 'status', 'plan']) {
    const r = await runKto([cmd, '--help']);
    assert.match(r.stdout.replace(/\s+/g, ' '), /--kubeconfig <path> kubeconfig file; without it: \$KUBECONFIG \(files joined by :\), then ~\/\.kube\/config, then the in-cluster service account/, cmd);
  }
});

test('kto completion bash: commands, flags, flag choices, from the command definitions', async () => {
  const script = await runKto(['completion', 'bash']);
  assert.equal(script.code, 0, script.stderr);
  const complete = async (...words: string[]) => {
    const line = `eval "$(cat)"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _kto; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = await run('bash', ['-c', line], { input: script.stdout });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean);
  };
  assert.deepEqual(await complete('kto', 'st'), ['status']);
  assert.deepEqual(await complete('kto', 'status', '-o', ''), ['json', 'yaml']);
  assert.deepEqual(await complete('kto', 'plan', '--re'), ['--restart-seconds']);
  assert.deepEqual(await complete('kto', 'controller', '--otlp-protocol', 'http'), ['http/protobuf', 'http/json']);
  assert.deepEqual(await complete('kto', 'plan', '--kubeconfig', '/tm'), [], 'a path: bash completes file names itself (-o default)');
  const zsh = await runKto(['completion', 'zsh']);
  assert.match(zsh.stdout, /^#compdef kto kubectl-kto\n/);
  assert.match(zsh.stdout, /bashcompinit/);
});

test('kto completion zsh: registered for kto and kubectl-kto; the words indexed as bash does', { skip: !existsSync('/usr/bin/zsh') && 'zsh is not installed' }, async () => {
  const script = await runKto(['completion', 'zsh']);
  // zsh's compgen leaves the matching to compadd: COMPREPLY holds the candidates, unfiltered.
  const line = 'eval "$(cat)"; print -r -- "$_comps[kto]|$_comps[kubectl-kto]"; COMP_WORDS=(kto status -o ""); COMP_CWORD=3; _kto; print -r -- "${COMPREPLY[@]}"';
  const r = await run('zsh', ['-f', '-c', line], { input: script.stdout, env: { HOME: dir } });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\n').filter(Boolean), ['_bash_complete -o default -F _kto|_bash_complete -o default -F _kto', 'json yaml']);
});
