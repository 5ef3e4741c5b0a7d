import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { detectKubeletLayout, flagValue } from '../../src/agent/detect.js';
import { SimKubelet } from '../../src/sim/kubelet/kubelet.js';

const roots: string[] = [];
after(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'detect-'));
  roots.push(d);
  return d;
}

async function proc(root: string, pid: number, argv: string[], env: Record<string, string> = {}): Promise<void> {
  const dir = join(root, 'proc', String(pid));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'cmdline'), argv.join('\0') + '\0');
  await writeFile(join(dir, 'environ'), Object.entries(env).map(([k, v]) => `${k}=${v}\0`).join(''));
}

describe('detectKubeletLayout', () => {
  test('drop-in mode from a simulated 1.31 node', async () => {
    const root = await tmp();
    const k = new SimKubelet({ nodeName: 'n1', version: 'v1.31.2', root, restartMs: 1 });
    await k.init();
    const layout = await detectKubeletLayout({ hostRoot: root, procRoot: k.procRoot });
    assert.deepEqual(layout, {
      mode: 'dropin',
      configFile: join(root, 'var/lib/kubelet/config.yaml'),
      dropinDir: join(root, 'etc/kubernetes/kubelet.conf.d'),
    });
    k.stop();
  });

  test('main mode from a simulated 1.27 node', async () => {
    const root = await tmp();
    const k = new SimKubelet({ nodeName: 'n1', version: 'v1.27.2', root, restartMs: 1 });
    await k.init();
    const layout = await detectKubeletLayout({ hostRoot: root, procRoot: k.procRoot, kubeletVersion: k.version });
    assert.deepEqual(layout, { mode: 'main', configFile: join(root, 'var/lib/kubelet/config.yaml') });
    k.stop();
  });

  test('1.29 with the alpha env uses the drop-in dir', async () => {
    const root = await tmp();
    const k = new SimKubelet({ nodeName: 'n1', version: 'v1.29.0', root, restartMs: 1 });
    await k.init();
    const layout = await detectKubeletLayout({ hostRoot: root, procRoot: k.procRoot, kubeletVersion: 'v1.29.0' });
    assert.equal(layout.mode, 'dropin');
    k.stop();
  });

  test('1.28 with --config-dir but without the alpha env falls back to main mode', async () => {
    const root = await tmp();
    await proc(root, 812, ['/usr/bin/kubelet', '--config', '/var/lib/kubelet/config.yaml', '--config-dir=/etc/kubernetes/kubelet.conf.d'], {
      PATH: '/usr/bin',
    });
    const layout = await detectKubeletLayout({ hostRoot: root, procRoot: join(root, 'proc'), kubeletVersion: 'v1.28.4' });
    assert.deepEqual(layout, { mode: 'main', configFile: join(root, 'var/lib/kubelet/config.yaml') });
    // With the env set it is drop-in mode.
    await proc(root, 812, ['/usr/bin/kubelet', '--config', '/var/lib/kubelet/config.yaml', '--config-dir=/etc/kubernetes/kubelet.conf.d'], {
      KUBELET_CONFIG_DROPIN_DIR_ALPHA: '',
    });
    const l2 = await detectKubeletLayout({ hostRoot: root, procRoot: join(root, 'proc'), kubeletVersion: 'v1.28.4' });
    assert.equal(l2.mode, 'dropin');
  });

  test('picks the kubelet out of the process table, not kubelet-lookalikes', async () => {
    const root = await tmp();
    await proc(root, 1, ['/sbin/init']);
    await proc(root, 50, ['/usr/bin/kubelet-tracing-agent', '--config=/wrong']);
    await proc(root, 60, ['/bin/sh', '-c', '/usr/bin/kubelet --config=/wrong']);
    await proc(root, 900, ['kubelet', '--v=2', '-config=/etc/kubelet/cfg.yaml']);
    await mkdir(join(root, 'proc', 'self'), { recursive: true });
    const layout = await detectKubeletLayout({ hostRoot: root, procRoot: join(root, 'proc') });
    assert.deepEqual(layout, { mode: 'main', configFile: join(root, 'etc/kubelet/cfg.yaml') });
  });

  test('missing kubelet: fallback, or a clear error', async () => {
    const root = await tmp();
    await proc(root, 1, ['/sbin/init']);
    const procRoot = join(root, 'proc');
    await assert.rejects(detectKubeletLayout({ hostRoot: root, procRoot }), /no kubelet process found.*hostPID/);
    assert.deepEqual(await detectKubeletLayout({ hostRoot: root, procRoot, fallback: { configFile: '/var/lib/kubelet/config.yaml' } }), {
      mode: 'main',
      configFile: join(root, 'var/lib/kubelet/config.yaml'),
    });
    assert.deepEqual(await detectKubeletLayout({ hostRoot: root, procRoot, fallback: { configDir: '/etc/kubernetes/kubelet.conf.d' } }), {
      mode: 'dropin',
      configFile: join(root, 'var/lib/kubelet/config.yaml'),
      dropinDir: join(root, 'etc/kubernetes/kubelet.conf.d'),
    });
    await assert.rejects(detectKubeletLayout({ hostRoot: root, procRoot: join(root, 'nope') }), /no kubelet process found/);
  });

  test('kubelet configured by flags only is an error without a fallback', async () => {
    const root = await tmp();
    await proc(root, 77, ['/usr/local/bin/kubelet', '--kubeconfig=/etc/kubernetes/kubelet.conf']);
    await assert.rejects(detectKubeletLayout({ hostRoot: root, procRoot: join(root, 'proc') }), /runs without --config/);
  });

  test('flagValue parses Go-style flags', () => {
    const argv = ['kubelet', '--config', 'a', '--config-dir=b', '-v', '2', '--config=c'];
    assert.equal(flagValue(argv, 'config'), 'c');
    assert.equal(flagValue(argv, 'config-dir'), 'b');
    assert.equal(flagValue(argv, 'missing'), undefined);
  });
});
