import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse } from 'yaml';
import { syncFsOps } from '../../src/agent/atomic.js';
import type { KubeletLayout } from '../../src/agent/detect.js';
import {
  applyConfig,
  backupPath,
  MANAGED_HEADER,
  planChanges,
  removeConfig,
  renderDropin,
  restoreSnapshot,
  statePath,
  takeSnapshot,
  managedFiles,
} from '../../src/agent/files.js';

const roots: string[] = [];
after(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

const ORIGINAL = `# kubeadm wrote this; ops added comments
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous:
    enabled: false # never anonymous
  webhook:
    cacheTTL: 0s
    enabled: true
cgroupDriver: systemd # must match containerd
clusterDNS:
  - 10.96.0.10
clusterDomain: cluster.local

# GC tuning from incident 1234
imageGCHighThresholdPercent: 85
staticPodPath: /etc/kubernetes/manifests
`;

const desired = {
  apiVersion: 'kubelet.config.k8s.io/v1beta1',
  kind: 'KubeletConfiguration',
  featureGates: { KubeletTracing: true },
  tracing: { endpoint: 'otel:4317', samplingRatePerMillion: 100 },
};

async function mainLayout(text = ORIGINAL): Promise<{ layout: KubeletLayout; file: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'files-'));
  roots.push(dir);
  const file = join(dir, 'config.yaml');
  await writeFile(file, text);
  return { layout: { mode: 'main', configFile: file }, file, dir };
}

describe('main mode', () => {
  test('keeps comments and every other field byte-for-byte, adds only our keys', async () => {
    const { layout, file } = await mainLayout();
    assert.equal(await applyConfig(layout, desired), true);
    const text = await readFile(file, 'utf8');
    assert.ok(text.startsWith(ORIGINAL), `original bytes kept as a prefix:\n${text}`);
    const added = text.slice(ORIGINAL.length);
    assert.deepEqual(parse(added), { featureGates: { KubeletTracing: true }, tracing: desired.tracing });
    assert.equal(await readFile(backupPath(file), 'utf8'), ORIGINAL);
  });

  test('re-applying is a no-op; a new value changes only that value; backup is written once', async () => {
    const { layout, file } = await mainLayout();
    await applyConfig(layout, desired);
    assert.deepEqual(await planChanges(layout, desired), []);
    assert.equal(await applyConfig(layout, desired), false);
    await writeFile(backupPath(file), 'sentinel');
    const second = { ...desired, tracing: { endpoint: 'otel:4317', samplingRatePerMillion: 5 } };
    assert.equal(await applyConfig(layout, second), true);
    const cfg = parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(cfg['tracing'], second.tracing);
    assert.equal(await readFile(backupPath(file), 'utf8'), 'sentinel', 'backup not rewritten');
  });

  test('removal restores the original bytes and deletes the state file', async () => {
    const { layout, file } = await mainLayout();
    await applyConfig(layout, desired);
    assert.equal(await removeConfig(layout), true);
    assert.equal(await readFile(file, 'utf8'), ORIGINAL);
    await assert.rejects(readFile(statePath(file)), /ENOENT/);
    assert.equal(await removeConfig(layout), false, 'second removal is a no-op');
  });

  test('removal leaves no backup behind; a snapshot taken before it brings the backup back', async () => {
    const { layout, file } = await mainLayout();
    await applyConfig(layout, desired);
    const before = await takeSnapshot(managedFiles(layout));
    await removeConfig(layout);
    await assert.rejects(readFile(backupPath(file)), /ENOENT/, 'config.yaml.nodetracing.bak removed with the rest');
    await restoreSnapshot(before); // a removal rolled back
    assert.equal(await readFile(backupPath(file), 'utf8'), ORIGINAL);
    assert.deepEqual(parse(await readFile(file, 'utf8')), { ...(parse(ORIGINAL) as object), featureGates: { KubeletTracing: true }, tracing: desired.tracing });
  });

  test("never removes the user's own settings", async () => {
    const own = ORIGINAL + 'featureGates:\n  KubeletTracing: true # ours, says the user\n  NodeSwap: true\ntracing:\n  samplingRatePerMillion: 1\n';
    const { layout, file } = await mainLayout(own);
    await applyConfig(layout, { tracing: { endpoint: 'otel:4317' }, featureGates: { KubeletTracing: true } });
    let cfg = parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(cfg['tracing'], { endpoint: 'otel:4317' });
    assert.deepEqual(cfg['featureGates'], { KubeletTracing: true, NodeSwap: true });
    await removeConfig(layout);
    cfg = parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(cfg['tracing'], { samplingRatePerMillion: 1 }, "the user's tracing is back");
    assert.deepEqual(cfg['featureGates'], { KubeletTracing: true, NodeSwap: true }, "the user's gate stays");
    assert.match(await readFile(file, 'utf8'), /KubeletTracing: true # ours, says the user/);
  });

  test('dropping the gate from the desired config gives it back (1.26 -> 1.27 upgrade)', async () => {
    const { layout, file } = await mainLayout();
    await applyConfig(layout, desired);
    await applyConfig(layout, { tracing: desired.tracing });
    const cfg = parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    assert.equal(cfg['featureGates'], undefined, 'the featureGates map we created is gone again');
    assert.deepEqual(cfg['tracing'], desired.tracing);
    await removeConfig(layout);
    assert.equal(await readFile(file, 'utf8'), ORIGINAL);
  });

  test("adds our gate to the user's featureGates map and takes only it away again", async () => {
    const withGates = ORIGINAL + 'featureGates:\n  NodeSwap: true # swap on\n';
    const { layout, file } = await mainLayout(withGates);
    await applyConfig(layout, desired);
    const cfg = parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(cfg['featureGates'], { NodeSwap: true, KubeletTracing: true });
    await removeConfig(layout);
    assert.equal(await readFile(file, 'utf8'), withGates);
  });

  test('after kubeadm rewrote the file, apply puts our keys back and removal still works', async () => {
    const { layout, file } = await mainLayout();
    await applyConfig(layout, desired);
    await writeFile(file, ORIGINAL); // kubeadm upgrade: our keys are gone, our state file is not
    assert.equal(await applyConfig(layout, desired), true);
    assert.deepEqual((parse(await readFile(file, 'utf8')) as Record<string, unknown>)['tracing'], desired.tracing);
    await removeConfig(layout);
    assert.equal(await readFile(file, 'utf8'), ORIGINAL);
  });

  test('rejects a config file that is not YAML', async () => {
    const { layout } = await mainLayout('a: [unclosed\n');
    await assert.rejects(applyConfig(layout, desired), /not valid YAML/);
  });
});

describe('drop-in mode', () => {
  test('writes 90-nodetracing.conf with a header; removal deletes it; snapshot restores', async () => {
    const root = await mkdtemp(join(tmpdir(), 'files-dropin-'));
    roots.push(root);
    const dropinDir = join(root, 'kubelet.conf.d');
    await mkdir(dropinDir);
    const layout: KubeletLayout = { mode: 'dropin', configFile: join(root, 'config.yaml'), dropinDir };
    const snap = await takeSnapshot(managedFiles(layout));
    assert.equal(await applyConfig(layout, { tracing: { endpoint: 'otel:4317' } }), true);
    const text = await readFile(join(dropinDir, '90-nodetracing.conf'), 'utf8');
    assert.ok(text.startsWith(MANAGED_HEADER));
    assert.match(text, /managed by kubelet-tracing-operator/);
    assert.deepEqual(parse(text), {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      tracing: { endpoint: 'otel:4317' },
    });
    assert.equal(await applyConfig(layout, { tracing: { endpoint: 'otel:4317' } }), false);
    await restoreSnapshot(snap);
    assert.deepEqual(await readdir(dropinDir), []);
    await applyConfig(layout, { tracing: { endpoint: 'otel:4317' } });
    assert.equal(await removeConfig(layout), true);
    assert.deepEqual(await readdir(dropinDir), []);
    assert.equal(await removeConfig(layout), false);
  });

  test('a drop-in directory removed by someone is made again, by the default and the synchronous fs steps', async () => {
    for (const ops of [undefined, syncFsOps]) {
      const root = await mkdtemp(join(tmpdir(), 'files-dropin-'));
      roots.push(root);
      const dropinDir = join(root, 'etc', 'kubelet.conf.d');
      const layout: KubeletLayout = { mode: 'dropin', configFile: join(root, 'config.yaml'), dropinDir };
      assert.equal(await applyConfig(layout, { tracing: { endpoint: 'otel:4317' } }, ops), true);
      assert.deepEqual(await readdir(dropinDir), ['90-nodetracing.conf']);
    }
  });

  test('renders a config as it is now: a changed config, or one that differs only by -0, is rendered anew', () => {
    const config: { tracing: { endpoint: string; samplingRatePerMillion: number } } = { tracing: { endpoint: 'otel:4317', samplingRatePerMillion: 0 } };
    const first = renderDropin(config);
    assert.match(first, /samplingRatePerMillion: 0\n/);
    assert.equal(renderDropin({ tracing: { endpoint: 'otel:4317', samplingRatePerMillion: 0 } }), first);
    config.tracing.samplingRatePerMillion = 5;
    assert.match(renderDropin(config), /samplingRatePerMillion: 5\n/);
    assert.match(renderDropin({ tracing: { endpoint: 'otel:4317', samplingRatePerMillion: -0 } }), /samplingRatePerMillion: -0\n/);
    assert.equal(renderDropin({ tracing: { endpoint: 'otel:4317', samplingRatePerMillion: 0 } }), first);
  });
});
