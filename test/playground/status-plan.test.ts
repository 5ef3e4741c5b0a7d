// kto status and kto plan as a user runs them: `kto sim` and `kto controller` as processes, every
// kto command a process of its own, the policies applied with the installed kubectl, and kto as
// a kubectl plugin found on PATH.
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import type { PlanReport } from '../../src/inspect/plan.js';
import type { PolicyView } from '../../src/inspect/rollout-view.js';
import { CLI, ROOT, run, runKto } from '../helpers/cli.js';
import { startKto, type Child } from '../helpers/proc.js';
import { waitFor } from '../helpers/poll.js';

let dir = '';
let kc = '';
let sim: Child;
let ctl: Child;
const children: Child[] = [];

const kubectl = (...args: string[]) => run('kubectl', ['--kubeconfig', kc, ...args], { timeoutMs: 30_000 });
const kto = (...args: string[]) => runKto([...args, '--kubeconfig', kc], { timeoutMs: 30_000 });

async function json<T>(...args: string[]): Promise<T> {
  const r = await kto(...args, '-o', 'json');
  assert.equal(r.code, 0, `kto ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

const until = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> =>
  waitFor(what, fn, timeoutMs, 300, () => `${sim.output().slice(-1500)}\n${ctl.output().slice(-1500)}`);

// node-01 v1.24 (unsupported), node-02 v1.26 (gate), node-03 v1.30 (its kubelet rejects tracing),
// node-04 v1.24, node-05 v1.26.
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kto-status-plan-'));
  kc = join(dir, 'kubeconfig');
  sim = startKto(['sim', '--nodes', '5', '--versions', 'v1.24.17,v1.26.15,v1.30.10', '--restart-ms', '150', '--fail-nodes', 'node-03', '--kubeconfig', kc]);
  children.push(sim);
  await sim.waitFor(/embedded cluster ready/);
  ctl = startKto(['controller', '--kubeconfig', kc, '--log-level', 'warn', '--metrics-port', '0']);
  children.push(ctl);
});
after(async () => {
  // SIGTERM, so `kto sim` removes its nodes' directories (tmpfs); SIGKILL after 10 s if it hangs.
  for (const c of children) await c.stop('SIGTERM');
  await rm(dir, { recursive: true, force: true });
});

test('before any policy: status says so (exit 0); an unknown policy is exit 1; bad flags are usage (exit 2)', async () => {
  const none = await kto('status');
  assert.equal(none.code, 0, none.stderr);
  assert.equal(none.stdout, 'No NodeTracingPolicy found.\n');
  assert.deepEqual(await json('status'), { policies: [] });
  const missing = await kto('status', 'nope');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no NodeTracingPolicy named "nope"/);
  const badOutput = await kto('status', '-o', 'xml');
  assert.equal(badOutput.code, 2);
  assert.match(badOutput.stderr, /argument 'xml' is invalid\. Allowed choices are json, yaml/);
  const noFile = await kto('plan');
  assert.equal(noFile.code, 2);
  assert.match(noFile.stderr, /required option '-f, --filename <paths\.\.\.>' not specified/);
});

test('kto plan before the apply: targets, unsupported with why, the drop-in per kubelet version, the batches and the estimate', async () => {
  const plan = await json<PlanReport & { skipped: number }>('plan', '-f', 'examples/basic.yaml', '--restart-seconds', '20');
  assert.equal(plan.nodes, 5);
  const [p] = plan.policies;
  assert.ok(p);
  assert.equal(p.existing, false);
  assert.deepEqual(p.targets.map((t) => [t.node, t.change]), [['node-02', 'new'], ['node-03', 'new'], ['node-05', 'new']]);
  assert.deepEqual(p.unsupported.map((u) => [u.node, u.kubeletVersion, u.message]), [
    ['node-01', 'v1.24.17', 'kubelet v1.24 has no tracing (needs >= v1.25)'],
    ['node-04', 'v1.24.17', 'kubelet v1.24 has no tracing (needs >= v1.25)'],
  ]);
  assert.deepEqual(p.dropins.map((d) => [d.kubeletVersion, d.nodes, Boolean(d.config.featureGates)]), [
    ['v1.26.15', ['node-02', 'node-05'], true],
    ['v1.30.10', ['node-03'], false],
  ]);
  assert.deepEqual(p.dropins[0]?.config.tracing, { samplingRatePerMillion: 10000, endpoint: 'otel-collector.observability.svc:4317' });
  // maxUnavailable 1: one node per batch, in the planner's stable order (not by name).
  assert.equal(p.rollout.maxUnavailable, 1);
  assert.equal(p.rollout.batches.length, 3);
  assert.deepEqual(p.rollout.batches.flat().sort(), ['node-02', 'node-03', 'node-05']);
  assert.deepEqual(p.estimate, { batches: 3, restartSeconds: 20, minReadySeconds: 0, seconds: 60 });

  const text = await kto('plan', '-f', 'examples/basic.yaml');
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^NodeTracingPolicy basic: a new policy/m);
  assert.match(text.stdout, /^Targets 3 node\(s\): 3 new, 0 changed, 0 unchanged; 2 unsupported; 0 owned by another policy; 0 dropped$/m);
  assert.match(text.stdout, /^ {4}featureGates:\n {6}KubeletTracing: true$/m);
  assert.match(text.stdout, /^Estimated duration: 3 batch\(es\) x \(30 s restart \+ 0 s minReadySeconds\) = 90s$/m);
});

test('kto plan: an invalid policy is exit 1 with the messages of kto validate; other kinds in the stream are skipped', async () => {
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, 'apiVersion: nodetracing.dev/v1alpha1\nkind: NodeTracingPolicy\nmetadata: {name: bad}\nspec: {tracing: {endpoint: "http://otel:4317"}}\n');
  const r = await kto('plan', '-f', bad);
  const v = await runKto(['validate', bad]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, v.stderr);
  assert.match(r.stderr, /bad: spec\.tracing\.endpoint: scheme "http" is not accepted by the kubelet/);

  const stream = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n${await readFile(join(ROOT, 'examples/basic.yaml'), 'utf8')}`;
  const piped = await run(process.execPath, ['--import', 'tsx', CLI, 'plan', '-f', '-', '--kubeconfig', kc, '-o', 'json'], { input: stream });
  assert.equal(piped.code, 0, piped.stderr);
  const report = JSON.parse(piped.stdout) as PlanReport & { skipped: number };
  assert.equal(report.skipped, 1);
  assert.deepEqual(report.policies.map((p) => p.name), ['basic']);
});

test('after the apply: kto status follows the rollout to the halt, names the failed node with the kubelet\'s words and the unsupported ones; the policy status names them too', async () => {
  const applied = await kubectl('apply', '-f', 'examples/basic.yaml');
  assert.equal(applied.code, 0, applied.stderr);
  const watch = startKto(['status', 'basic', '-w', '--kubeconfig', kc]);
  children.push(watch);
  const view = await until('halted on node-03', async () => {
    const v = await json<PolicyView>('status', 'basic');
    return v.counts.failed === 1 && v.ready?.reason === 'RolloutHalted' ? v : undefined;
  });
  const n3 = view.nodes.find((n) => n.node === 'node-03');
  assert.equal(n3?.phase, 'Failed');
  assert.equal(n3?.failure, 'RolledBack');
  assert.equal(n3?.agentState, 'RolledBack');
  assert.match(n3?.message ?? '', /simulated failure/);
  assert.deepEqual(view.unsupported.map((u) => [u.node, u.kubeletVersion]), [['node-01', 'v1.24.17'], ['node-04', 'v1.24.17']]);
  for (const n of view.nodes.filter((x) => x.phase === 'Updated')) assert.equal(n.appliedHash, n.desiredHash, n.node);

  const text = await kto('status', 'basic');
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^basic\s+3\s+\d\s+0\s+1\s+2\s+0\s+False\s+RolloutHalted$/m);
  assert.match(text.stdout, /^NODE\s+KUBELET\s+PHASE\s+AGENT\s+APPLIED\s+DESIRED\s+SINCE\s+MESSAGE$/m);
  assert.match(text.stdout, /^node-03\s+v1\.30\.10\s+Failed\s+RolledBack\s+-\s+[0-9a-f]{16}\s+\d+s\s+.*simulated failure/m);
  assert.match(text.stdout, /^node-01\s+v1\.24\.17\s+kubelet v1\.24 has no tracing \(needs >= v1\.25\)$/m);
  const all = await kto('status');
  assert.match(all.stdout, /^NAME\s+TARGET\s+UPDATED\s+IN-PROGRESS\s+FAILED\s+UNSUPPORTED\s+CONFLICT\s+READY\s+REASON\nbasic\s+3\s/m);

  const status = JSON.parse((await kubectl('get', 'ntp', 'basic', '-o', 'jsonpath={.status}')).stdout) as { failures: unknown[]; unsupported: unknown[] };
  assert.deepEqual(status.failures.map((f) => (f as { node: string; reason: string }).node), ['node-03']);
  assert.deepEqual(status.unsupported.map((u) => (u as { node: string }).node), ['node-01', 'node-04']);

  // -w printed the halt too, and a change redraws it; SIGINT ends it cleanly.
  await watch.waitFor(/RolloutHalted/);
  const patched = await kubectl('patch', 'ntp', 'basic', '--type', 'merge', '-p', '{"spec":{"rollout":{"maxFailures":1}}}');
  assert.equal(patched.code, 0, patched.stderr);
  await watch.waitFor(/True\s+RolloutComplete/, 60_000);
  const stopped = await watch.stop('SIGINT');
  assert.equal(stopped.code, 0);
});

test('kto plan against the running policy: the same spec changes nothing; a higher-priority policy takes nodes, and the other policy is told what it loses', async () => {
  // The cluster's basic has maxFailures 1 since the test before; the example file has not.
  const example = await json<PlanReport>('plan', '-f', 'examples/basic.yaml');
  assert.equal(example.policies[0]?.specChanged, true);
  const current = join(dir, 'basic-current.yaml');
  await writeFile(current, (await readFile(join(ROOT, 'examples/basic.yaml'), 'utf8')).replace('nodeTimeoutSeconds: 120', 'nodeTimeoutSeconds: 120\n    maxFailures: 1'));
  const same = await json<PlanReport>('plan', '-f', current);
  const p = same.policies[0];
  assert.equal(p?.existing, true);
  assert.equal(p?.specChanged, false);
  assert.deepEqual(p?.targets.map((t) => [t.node, t.change]), [['node-02', 'unchanged'], ['node-03', 'failed'], ['node-05', 'unchanged']]);
  assert.deepEqual(p?.rollout.batches, []);

  const canary = join(dir, 'canary.yaml');
  await writeFile(canary, `apiVersion: nodetracing.dev/v1alpha1
kind: NodeTracingPolicy
metadata: {name: canary}
spec:
  nodeSelector: {matchLabels: {kubernetes.io/hostname: node-02}}
  priority: 10
  tracing: {samplingRatePerMillion: 1}
  rollout: {minReadySeconds: 5}
`);
  const plan = await json<PlanReport>('plan', '-f', canary, '--restart-seconds', '10');
  const c = plan.policies[0];
  assert.deepEqual(c?.targets.map((t) => [t.node, t.change, t.now?.policy]), [['node-02', 'changed', 'basic']]);
  assert.deepEqual(c?.taken, [{ node: 'node-02', from: 'basic', why: 'priority 10 > 0' }]);
  assert.deepEqual(plan.others, [{ policy: 'basic', loses: [{ node: 'node-02', to: 'canary' }], gains: [] }]);
  assert.equal(c?.estimate.seconds, 15);

  // Applied, the loser's status names the node and who owns it.
  assert.equal((await kubectl('apply', '-f', canary)).code, 0);
  const basic = await until('basic reports the conflict', async () => {
    const v = await json<PolicyView>('status', 'basic');
    return v.counts.conflict === 1 ? v : undefined;
  });
  assert.deepEqual(basic.conflicts, [{ node: 'node-02', ownedBy: 'canary', why: 'priority 10 > 0' }]);
  const text = await kto('status', 'basic');
  assert.match(text.stdout, /^Owned by another policy \(1\):\nNODE\s+OWNED-BY\s+WHY\nnode-02\s+canary\s+priority 10 > 0$/m);
  const yaml = await kto('status', 'basic', '-o', 'yaml');
  assert.equal((parse(yaml.stdout) as PolicyView).name, 'basic');
  await until('the conflict in the policy status', async () => {
    const conflicts = (await kubectl('get', 'ntp', 'basic', '-o', 'jsonpath={.status.conflicts}')).stdout;
    return conflicts === '[{"node":"node-02","ownedBy":"canary"}]' ? true : undefined;
  });
});

test('as a kubectl plugin: `kubectl kto status basic` with kubectl-kto on PATH', async () => {
  // bin/kubectl-kto.js itself, pointed at the sources (bin/ runs the compiled dist/).
  const bin = join(dir, 'bin');
  await mkdir(bin);
  const plugin = join(bin, 'kubectl-kto');
  const source = (await readFile(join(ROOT, 'bin/kubectl-kto.js'), 'utf8'))
    .replace('#!/usr/bin/env node', `#!/usr/bin/env -S ${process.execPath} --import tsx`)
    .replace("'../dist/cli.js'", JSON.stringify(CLI));
  await writeFile(plugin, source);
  await chmod(plugin, 0o755);
  const env = { PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`, KUBECONFIG: kc };
  const r = await run('kubectl', ['kto', 'status', 'basic'], { env, timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^basic\s+\d+\s+/m);
  assert.match(r.stdout, /^NODE\s+KUBELET\s+PHASE/m);
  const help = await run('kubectl', ['kto', 'status', '--help'], { env, timeoutMs: 30_000 });
  assert.match(help.stdout, /^Usage: kubectl kto status \[options\] \[policy\]/m);
});
