// The real kubectl against the embedded API server's identities and RBAC: apply of RBAC objects
// and workloads as the admin, `create token` (Node-bound from 1.31), `--token`, `--as`,
// `auth whoami`, `auth can-i` (and --list), each allowed or denied with the real message.

import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApiServer, NODES } from '../../src/sim/apiserver/index.js';
import { realisticNode } from '../../src/sim/apiserver/fixtures.js';
import { run, type RunResult } from '../helpers/cli.js';

type Run = RunResult;

const NS = 'kto-system';
const AGENT = `system:serviceaccount:${NS}:kto-agent`;

const RBAC_YAML = `apiVersion: v1
kind: Namespace
metadata: {name: ${NS}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: kto-agent, namespace: ${NS}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: kto-agent}
rules:
  - apiGroups: [""]
    resources: [nodes]
    verbs: [get, list, watch, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: kto-agent}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kto-agent}
subjects:
  - {kind: ServiceAccount, name: kto-agent, namespace: ${NS}}
`;

const WORKLOADS_YAML = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${NS}, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: kto-agent
      containers:
        - name: web
          image: example/web:1.0
          ports: [{containerPort: 8080, name: http}]
          env: [{name: A, value: "1"}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: ${NS}}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostPID: true
      containers: [{name: agent, image: example/agent:1.0}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${NS}}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: ${NS}}
stringData: {password: hunter2}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: ${NS}}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
`;

const VERSIONS = process.env['KTO_KUBECTL_VERSIONS']?.split(',') ?? ['v1.28.9', 'v1.33.1'];

for (const gitVersion of VERSIONS) {
  const minor = Number(gitVersion.split('.')[1]);
  describe(`kubectl ${gitVersion}: identities and RBAC`, () => {
    const server = new ApiServer({ gitVersion });
    let dir = '';
    let kubeconfig = '';
    let token = '';

    const kubectl = (args: string[]): Promise<Run> => run('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args], { timeoutMs: 20_000 });
    const ok = async (args: string[]): Promise<string> => {
      const r = await kubectl(args);
      assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}`);
      return r.stdout;
    };
    const fails = async (args: string[], stderr: string): Promise<void> => {
      const r = await kubectl(args);
      assert.notEqual(r.code, 0, `kubectl ${args.join(' ')} should fail`);
      assert.equal(r.stderr.trim().split('\n').filter((l) => !l.startsWith('Warning:')).join('\n'), stderr);
    };
    const file = async (name: string, text: string): Promise<string> => {
      const p = join(dir, name);
      await writeFile(p, text);
      return p;
    };

    before(async () => {
      await server.start();
      dir = await mkdtemp(join(tmpdir(), 'kto-kubectl-auth-'));
      kubeconfig = join(dir, 'kubeconfig');
      await server.writeKubeconfig(kubeconfig);
      for (let i = 1; i <= 2; i++) server.store.create(NODES, realisticNode(i, 'v1.32.2'));
    });
    after(async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    });

    test('the admin applies RBAC objects; a second apply changes nothing', async () => {
      const f = await file('rbac.yaml', RBAC_YAML);
      assert.match(await ok(['apply', '-f', f]), /clusterrolebinding.rbac.authorization.k8s.io\/kto-agent created/);
      const again = await ok(['apply', '-f', f]);
      assert.match(again, /clusterrole.rbac.authorization.k8s.io\/kto-agent unchanged/);
      assert.match(again, /clusterrolebinding.rbac.authorization.k8s.io\/kto-agent unchanged/);
      assert.match(await ok(['get', 'clusterrolebinding', 'kto-agent', '-o', 'wide']), /kto-agent\s+ClusterRole\/kto-agent\s+\S+\s+\s*kto-system\/kto-agent/);
    });

    test('create token (Node-bound where the server supports it), then whoami under it', async () => {
      const bound = minor >= 31 ? ['--bound-object-kind', 'Node', '--bound-object-name', 'node-00001'] : [];
      token = (await ok(['-n', NS, 'create', 'token', 'kto-agent', '--duration', '1h', ...bound])).trim();
      const who = JSON.parse(await ok(['--token', token, 'auth', 'whoami', '-o', 'json'])) as { status: { userInfo: { username: string; extra?: Record<string, string[]> } } };
      assert.equal(who.status.userInfo.username, AGENT);
      if (minor >= 31) assert.deepEqual(who.status.userInfo.extra?.['authentication.kubernetes.io/node-name'], ['node-00001']);
      await fails(['-n', NS, 'create', 'token', 'ghost'], 'error: failed to create token: serviceaccounts "ghost" not found');
    });

    test('--token: allowed reads, denied writes and secrets, with the real messages', async () => {
      assert.match(await ok(['--token', token, 'get', 'nodes']), /node-00001\s+Ready/);
      await fails(['--token', token, 'delete', 'node', 'node-00002'], `Error from server (Forbidden): nodes "node-00002" is forbidden: User "${AGENT}" cannot delete resource "nodes" in API group "" at the cluster scope`);
      await fails(['--token', token, '-n', NS, 'get', 'secrets'], `Error from server (Forbidden): secrets is forbidden: User "${AGENT}" cannot list resource "secrets" in API group "" in the namespace "${NS}"`);
      await fails(['--token', 'not-a-token', 'get', 'nodes'], 'error: You must be logged in to the server (Unauthorized)');
    });

    test('auth can-i as the admin with --as, and --list under the token', async () => {
      assert.equal((await ok(['auth', 'can-i', 'patch', 'nodes', '--as', AGENT])).trim(), 'yes');
      const no = await kubectl(['auth', 'can-i', 'get', 'secrets', '-n', NS, '--as', AGENT]);
      assert.deepEqual([no.code, no.stdout.trim()], [1, 'no']);
      assert.match(await ok(['--token', token, 'auth', 'can-i', '--list']), /nodes\s+\[\]\s+\[\]\s+\[get list watch patch\]/);
    });

    test('impersonation: the admin may act as anyone; the agent may not', async () => {
      await fails(['get', 'nodes', '--as', 'bob'], 'Error from server (Forbidden): nodes is forbidden: User "bob" cannot list resource "nodes" in API group "" at the cluster scope');
      await fails(['--token', token, 'get', 'nodes', '--as', 'bob'], `Error from server (Forbidden): users "bob" is forbidden: User "${AGENT}" cannot impersonate resource "users" in API group "" at the cluster scope`);
    });

    test('built-in workloads: apply (twice), get, describe, explain, delete; no pods are scheduled', async () => {
      const f = await file('workloads.yaml', WORKLOADS_YAML);
      assert.match(await ok(['apply', '-f', f]), /deployment.apps\/web created/);
      const again = await ok(['apply', '-f', f]);
      for (const what of ['deployment.apps/web', 'daemonset.apps/agent', 'service/web']) assert.match(again, new RegExp(`${what} unchanged`));
      // As on a real cluster: stringData is write-only (never read back), and a PDB's selector has
      // patchStrategy "replace", so kubectl sends both again on every apply.
      assert.match(again, /secret\/creds configured/);
      assert.match(await ok(['-n', NS, 'get', 'deploy']), /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\nweb\s+0\/2\s+0\s+0\s+/);
      assert.match(await ok(['-n', NS, 'get', 'svc', 'web']), /web\s+ClusterIP\s+10\.\d+\.\d+\.\d+\s+<none>\s+80\/TCP/);
      assert.match(await ok(['-n', NS, 'get', 'secret', 'creds']), /creds\s+Opaque\s+1/);
      assert.match(await ok(['-n', NS, 'describe', 'deployment', 'web']), /Replicas:\s+2 desired/);
      assert.match(await ok(['explain', 'deployment.spec.template.spec.containers.image']), /Container image name/);
      const edited = WORKLOADS_YAML.replace('replicas: 2', 'replicas: 3').replace('[{name: A, value: "1"}]', '[{name: A, value: "2"}]');
      assert.match(await ok(['apply', '-f', await file('workloads2.yaml', edited)]), /deployment.apps\/web configured/);
      const d = JSON.parse(await ok(['-n', NS, 'get', 'deploy', 'web', '-o', 'json'])) as { metadata: { generation: number }; spec: { replicas: number; template: { spec: { containers: { env: unknown[]; ports: unknown[] }[] } } } };
      assert.deepEqual([d.metadata.generation, d.spec.replicas, d.spec.template.spec.containers[0]?.env, d.spec.template.spec.containers[0]?.ports], [2, 3, [{ name: 'A', value: '2' }], [{ containerPort: 8080, name: 'http', protocol: 'TCP' }]]);
      assert.equal((await ok(['-n', NS, 'get', 'pods', '-o', 'name'])).trim(), '');
      assert.match(await ok(['-n', NS, 'delete', '-f', f]), /deployment.apps "web" deleted/);
    });
  });
}
