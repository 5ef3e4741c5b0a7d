// The repo's CRD rules at `kubectl apply` (the real kubectl against the embedded API server):
// a policy the controller could never act on is refused at apply time with the field named, as
// a real API server does with the CRD's x-kubernetes-validations (CEL) and patterns.

import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { buildCrd } from '../../src/api/crd.js';
import { ApiServer } from '../../src/sim/apiserver/index.js';
import { run, type RunResult } from '../helpers/cli.js';

const REPO_CRD = join(process.cwd(), 'crds', 'nodetracingpolicies.nodetracing.dev.yaml');

function policy(name: string, spec: Record<string, unknown>): string {
  return stringify({ apiVersion: 'nodetracing.dev/v1alpha1', kind: 'NodeTracingPolicy', metadata: { name }, spec: { tracing: {}, ...spec } });
}

const sel = (matchExpressions: unknown[]): Record<string, unknown> => ({ nodeSelector: { matchExpressions } });
const ep = (endpoint: string): Record<string, unknown> => ({ tracing: { endpoint } });

/** [name, spec, what kubectl must print] */
const REFUSED: Array<[string, Record<string, unknown>, RegExp]> = [
  ['in-no-values', sel([{ key: 'zone', operator: 'In' }]), /spec\.nodeSelector\.matchExpressions\[0\]\.values: Invalid value: "object": must be non-empty when operator is In/],
  ['exists-values', sel([{ key: 'zone', operator: 'Exists', values: ['a'] }]), /spec\.nodeSelector\.matchExpressions\[0\]\.values: Invalid value: "object": must be empty when operator is Exists/],
  ['bad-key', sel([{ key: 'Example.com/zone', operator: 'Exists' }]), /spec\.nodeSelector\.matchExpressions\[0\]\.key: Invalid value: "string": prefix "Example\.com" must be a lowercase DNS subdomain/],
  ['bad-label-key', { nodeSelector: { matchLabels: { 'bad key': 'x' } } }, /spec\.nodeSelector\.matchLabels: Invalid value: "object": key "bad key": name part "bad key" must be 1-63 alphanumeric characters/],
  ['bad-label-value', { nodeSelector: { matchLabels: { tier: '-x' } } }, /spec\.nodeSelector\.matchLabels\.tier: Invalid value: "-x": spec\.nodeSelector\.matchLabels\.tier in body should match/],
  ['http', ep('http://otel:4317'), /spec\.tracing\.endpoint: Invalid value: "string": scheme "http" is not accepted by the kubelet/],
  ['grpc', ep('grpc://otel:4317'), /spec\.tracing\.endpoint: Invalid value: "string": scheme "grpc" is not accepted/],
  ['port-0', ep('otel:0'), /spec\.tracing\.endpoint: Invalid value: "string": port 0 must be from 1 to 65535/],
  ['port-70000', ep('otel:70000'), /spec\.tracing\.endpoint: Invalid value: "string": port 70000 must be from 1 to 65535/],
  ['port-abc', ep('otel:abc'), /spec\.tracing\.endpoint: Invalid value: "string": port "abc" must be a number from 1 to 65535/],
  ['whitespace', ep('otel :4317'), /spec\.tracing\.endpoint: Invalid value: "string": must not contain whitespace or control characters/],
  ['dns-authority', ep('dns://otel-collector:4317'), /spec\.tracing\.endpoint: Invalid value: "string": names the DNS server "otel-collector:4317" and no target .*write dns:\/\/\/otel-collector:4317/],
  ['priority', { priority: 99999999999999 }, /spec\.priority: Invalid value: 99999999999999: spec\.priority in body should be less than or equal to 2147483647/],
];

const ACCEPTED: Array<[string, Record<string, unknown>]> = [
  ['unix-one-slash', ep('unix:/run/otel.sock')],
  ['dns-three-slashes', ep('dns:///otel-collector.observability.svc:4317')],
  ['selector', { nodeSelector: { matchLabels: { 'node-role.kubernetes.io/worker': '' }, matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a', 'b'] }, { key: 'x', operator: 'DoesNotExist' }] } }],
];

for (const gitVersion of process.env['KTO_KUBECTL_VERSIONS']?.split(',') ?? ['v1.28.9', 'v1.33.1']) {
  describe(`kubectl ${gitVersion} apply against the repo CRD's rules`, () => {
    const server = new ApiServer({ gitVersion });
    let dir = '';

    const kubectl = (args: string[]): Promise<RunResult> => run('kubectl', ['--kubeconfig', join(dir, 'kubeconfig'), '--cache-dir', join(dir, 'cache'), ...args], { timeoutMs: 20_000 });

    const apply = async (name: string, text: string): Promise<{ code: number | null; stdout: string; stderr: string }> => {
      const p = join(dir, `${name}.yaml`);
      await writeFile(p, text);
      return kubectl(['apply', '-f', p]);
    };

    before(async () => {
      await server.start();
      dir = await mkdtemp(join(tmpdir(), 'kto-crd-rules-'));
      await server.writeKubeconfig(join(dir, 'kubeconfig'));
      const r = await kubectl(['apply', '-f', REPO_CRD]);
      assert.equal(r.code, 0, r.stderr);
    });
    after(async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    });

    for (const [name, spec, want] of REFUSED) {
      test(`refused: ${name}`, async () => {
        const r = await apply(name, policy(name, spec));
        assert.notEqual(r.code, 0, `${name} was accepted: ${r.stdout}`);
        assert.match(r.stderr, new RegExp(`The NodeTracingPolicy "${name}" is invalid`));
        assert.match(r.stderr, want);
      });
    }

    for (const [name, spec] of ACCEPTED) {
      test(`accepted: ${name}`, async () => {
        const r = await apply(name, policy(name, spec));
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`nodetracingpolicy.nodetracing.dev/${name} created`));
      });
    }

    test('a CRD whose rule does not compile is refused, naming the rule', async () => {
      const crd = buildCrd() as { metadata: { name: string }; spec: { group: string; names: Record<string, unknown>; versions: Array<{ schema: { openAPIV3Schema: { properties: { spec: Record<string, unknown> } } } }> } };
      crd.metadata.name = 'brokens.example.com';
      crd.spec.group = 'example.com';
      crd.spec.names = { kind: 'Broken', plural: 'brokens', singular: 'broken', listKind: 'BrokenList' };
      const spec = crd.spec.versions[0]?.schema.openAPIV3Schema.properties.spec;
      assert.ok(spec);
      spec['x-kubernetes-validations'] = [{ rule: 'self.tracng.endpoint != ""', message: 'typo' }];
      const r = await apply('broken-crd', stringify(crd));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /The CustomResourceDefinition "brokens\.example\.com" is invalid: spec\.versions\[0\]\.schema\.openAPIV3Schema\.properties\[spec\]\.x-kubernetes-validations\[0\]\.rule: Invalid value: .*compilation failed: ERROR: <input>:1:5: undefined field 'tracng'/);
    });
  });
}
