// The embedded API server against the real kubectl binaries (the /usr/bin/kubectl dispatcher
// picks kubectl.1.28 or kubectl.1.33 from /version): get, apply (client-side, with validation),
// printer columns, 422 messages, describe, explain, annotate, label columns, watch, delete.

import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { ApiServer, NODES } from '../../src/sim/apiserver/index.js';
import { POLICIES, realisticNode, testPolicyCRD } from '../../src/sim/apiserver/fixtures.js';
import { run, type RunOptions, type RunResult } from '../helpers/cli.js';

type Run = RunResult;

const REPO_CRD = join(process.cwd(), 'crds', 'nodetracingpolicies.nodetracing.dev.yaml');

function policyYaml(name: string, rate: number, extra = ''): string {
  return `apiVersion: nodetracing.dev/v1alpha1
kind: NodeTracingPolicy
metadata:
  name: ${name}
spec:
  nodeSelector:
    matchLabels:
      node-role.kubernetes.io/worker: ""
  tracing:
    endpoint: otel-collector.observability.svc:4317
    samplingRatePerMillion: ${rate}
${extra}`;
}

// Two dispatcher targets by default; KTO_KUBECTL_VERSIONS=v1.27.0,v1.29.0,... tries others.
const VERSIONS = process.env['KTO_KUBECTL_VERSIONS']?.split(',') ?? ['v1.28.9', 'v1.33.1'];

for (const gitVersion of VERSIONS) {
  describe(`kubectl ${gitVersion} against the embedded apiserver`, () => {
    const server = new ApiServer({ gitVersion });
    let dir = '';
    let kubeconfig = '';

    const kubectl = (args: string[], opts: Pick<RunOptions, 'untilLines' | 'onLine' | 'timeoutMs'> = {}): Promise<Run> =>
      run('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args], { timeoutMs: 20_000, ...opts });

    const ok = async (args: string[]): Promise<string> => {
      const r = await kubectl(args);
      assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}`);
      return r.stdout;
    };

    const file = async (name: string, text: string): Promise<string> => {
      const p = join(dir, name);
      await writeFile(p, text);
      return p;
    };

    before(async () => {
      await server.start();
      dir = await mkdtemp(join(tmpdir(), 'kto-kubectl-'));
      kubeconfig = join(dir, 'kubeconfig');
      await server.writeKubeconfig(kubeconfig);
      for (let i = 1; i <= 3; i++) server.store.create(NODES, realisticNode(i, `v1.3${i - 1}.2`));
    });
    after(async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    });

    test('the dispatcher picks the binary from /version', async () => {
      const out = await ok(['version', '-o', 'json']);
      const v = JSON.parse(out) as { clientVersion: { minor: string }; serverVersion: { gitVersion: string } };
      assert.equal(v.serverVersion.gitVersion, gitVersion);
      assert.equal(v.clientVersion.minor.replace('+', ''), gitVersion.split('.')[1]);
    });

    test('get nodes prints the real columns, -L adds a label column', async () => {
      const out = await ok(['get', 'nodes', '-L', 'topology.kubernetes.io/zone']);
      const [header, first] = out.split('\n');
      assert.match(header ?? '', /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\s+ZONE/);
      assert.match(first ?? '', /^node-00001\s+Ready\s+worker\s+\d+s\s+v1\.30\.2\s+zone-b/);
    });

    test('apply a CRD, then a CR; get shows printer columns', async () => {
      assert.match(await ok(['apply', '-f', await file('crd.yaml', stringify(testPolicyCRD()))]), /customresourcedefinition.apiextensions.k8s.io\/nodetracingpolicies.nodetracing.dev created/);
      assert.match(await ok(['apply', '-f', await file('p.yaml', policyYaml('workers', 10000))]), /nodetracingpolicy.nodetracing.dev\/workers created/);
      const out = await ok(['get', 'ntp']);
      assert.match(out, /^NAME\s+ENDPOINT\s+RATE\s+READY\s+AGE\n/);
      assert.match(out, /workers\s+otel-collector.observability.svc:4317\s+10000\s+\d+s/, 'an absent Ready prints empty, as the real server sends null');
    });

    test('apply again after an edit takes the client-side apply (merge patch) path', async () => {
      assert.match(await ok(['apply', '-f', await file('p.yaml', policyYaml('workers', 20000))]), /workers configured/);
      const obj = server.store.get<{ spec: { tracing: { samplingRatePerMillion: number }; featureGate: string }; metadata: { generation: number; annotations: Record<string, string> } }>(POLICIES, 'workers');
      assert.equal(obj.spec.tracing.samplingRatePerMillion, 20000);
      assert.equal(obj.spec.featureGate, 'Auto');
      assert.equal(obj.metadata.generation, 2);
      assert.ok(obj.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']?.includes('20000'));
      assert.match(await ok(['apply', '-f', join(dir, 'p.yaml')]), /workers unchanged/);
    });

    test('an invalid CR is rejected with the field named', async () => {
      const r = await kubectl(['apply', '-f', await file('bad.yaml', policyYaml('bad', 2000000))]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /spec\.tracing\.samplingRatePerMillion: Invalid value: 2000000: spec\.tracing\.samplingRatePerMillion in body should be less than or equal to 1000000/);
      const unknown = await kubectl(['apply', '-f', await file('unknown.yaml', policyYaml('unk', 1, '  bogusField: 1\n'))]);
      assert.notEqual(unknown.code, 0);
      assert.match(unknown.stderr, /unknown field "spec.bogusField"/);
    });

    test('get -o yaml, describe, explain', async () => {
      assert.match(await ok(['get', 'ntp', 'workers', '-o', 'yaml']), /samplingRatePerMillion: 20000/);
      const d = await ok(['describe', 'ntp', 'workers']);
      assert.match(d, /Name:\s+workers/);
      assert.match(d, /Sampling Rate Per Million:\s+20000/);
      const e = await ok(['explain', 'ntp.spec.tracing']);
      assert.match(e, /The kubelet tracing stanza/);
      assert.match(e, /samplingRatePerMillion\s+<integer>/);
    });

    test('annotate, label and get -w (bounded)', async () => {
      await ok(['annotate', 'ntp', 'workers', 'kto.dev/note=hello']);
      assert.equal(server.store.get<{ metadata: { annotations: Record<string, string> } }>(POLICIES, 'workers').metadata.annotations['kto.dev/note'], 'hello');
      const w = await kubectl(['get', 'ntp', '-w', '--request-timeout=15s'], {
        untilLines: 3,
        onLine: (n) => {
          if (n === 2) server.store.patch(POLICIES, 'workers', 'merge', { spec: { tracing: { samplingRatePerMillion: 30000 } } });
        },
      });
      const lines = w.stdout.trim().split('\n');
      assert.match(lines[0] ?? '', /^NAME\s+ENDPOINT/);
      assert.match(lines[1] ?? '', /^workers\s+\S+\s+20000/);
      assert.match(lines[2] ?? '', /^workers\s+\S+\s+30000/);
    });

    test('apply of a built-in (strategic merge patch path) and get -o yaml', async () => {
      const cm = (v: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kto-settings\n  namespace: kube-system\ndata:\n  mode: ${v}\n`;
      assert.match(await ok(['apply', '-f', await file('cm.yaml', cm('a'))]), /configmap\/kto-settings created/);
      assert.match(await ok(['apply', '-f', await file('cm.yaml', cm('b'))]), /configmap\/kto-settings configured/);
      assert.match(await ok(['get', 'cm', 'kto-settings', '-n', 'kube-system', '-o', 'yaml']), /mode: b/);
      assert.match(await ok(['delete', 'cm', 'kto-settings', '-n', 'kube-system']), /deleted/);
    });

    test('delete removes the CR', async () => {
      assert.match(await ok(['delete', '-f', join(dir, 'p.yaml')]), /"workers" deleted/);
      const r = await kubectl(['get', 'ntp', 'workers']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /nodetracingpolicies.nodetracing.dev "workers" not found/);
    });

    test('the generated CRD of the repository applies, if present', { skip: !existsSync(REPO_CRD) }, async () => {
      await ok(['delete', 'crd', 'nodetracingpolicies.nodetracing.dev']);
      assert.match(await ok(['apply', '-f', REPO_CRD]), /nodetracingpolicies.nodetracing.dev (created|configured)/);
      assert.match(await ok(['apply', '-f', join(dir, 'p.yaml')]), /workers created/);
      assert.match(await ok(['get', 'ntp']), /workers/);
    });
  });
}
