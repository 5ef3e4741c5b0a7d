import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { jsonMergePatch, validateKubeletConfig } from '../../src/sim/kubelet/config.js';
import { SimKubelet } from '../../src/sim/kubelet/kubelet.js';

const RESTART_MS = 5;
const roots: string[] = [];
after(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

async function newKubelet(version: string, extra: { useDropinDir?: boolean; rejectAll?: boolean } = {}): Promise<SimKubelet> {
  const root = await mkdtemp(join(tmpdir(), 'simkubelet-'));
  roots.push(root);
  const k = new SimKubelet({ nodeName: `node-${version}`, version, root, restartMs: RESTART_MS, ...extra });
  await k.init();
  return k;
}

async function settle(k: SimKubelet): Promise<void> {
  for (let i = 0; i < 200 && k.restarting; i++) await new Promise((r) => setTimeout(r, 2));
}

const base = { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration' };
const tracing = { endpoint: 'otel-collector.observability.svc:4317', samplingRatePerMillion: 10000 };
type Files = Record<string, unknown>; // drop-in name -> document; 'main' -> merged into the main config
type Expect = { ok: true; tracing?: unknown } | { ok: false; error: RegExp };

const minorOf = (v: string): number => Number(v.split('.')[1]);
const needsGate = (m: number): boolean => m === 25 || m === 26;

interface Case {
  name: string;
  files: (minor: number) => Files;
  expect: (minor: number) => Expect;
  /** Tests the drop-in dir itself: below 1.28 the files go to a dir the kubelet never reads. */
  dropinOnly?: boolean;
}

const UNRECOGNIZED = /unrecognized feature gate: KubeletTracing/;
const GATE_OFF = /tracing is not supported when the KubeletTracing feature gate is disabled/;

const cases: Case[] = [
  { name: 'no tracing', files: () => ({}), expect: () => ({ ok: true }) },
  {
    name: 'tracing without gate',
    files: () => ({ '90-nodetracing.conf': { ...base, tracing } }),
    expect: (m) => (m < 25 ? { ok: true } : needsGate(m) ? { ok: false, error: GATE_OFF } : { ok: true, tracing }),
  },
  {
    name: 'tracing with gate true',
    files: () => ({ '90-nodetracing.conf': { ...base, featureGates: { KubeletTracing: true }, tracing } }),
    expect: (m) => (m < 25 || m >= 37 ? { ok: false, error: UNRECOGNIZED } : { ok: true, tracing }),
  },
  {
    name: 'tracing with gate false',
    files: () => ({ '90-nodetracing.conf': { ...base, featureGates: { KubeletTracing: false }, tracing } }),
    expect: (m) =>
      m < 25 || m >= 37
        ? { ok: false, error: UNRECOGNIZED }
        : m < 34
          ? { ok: false, error: GATE_OFF }
          : { ok: false, error: /cannot set feature gate KubeletTracing to false, feature is locked to true/ },
  },
  {
    name: 'bad endpoint http://',
    files: (m) => ({
      '90-nodetracing.conf': {
        ...base,
        ...(needsGate(m) ? { featureGates: { KubeletTracing: true } } : {}),
        tracing: { endpoint: 'http://collector:4318' },
      },
    }),
    expect: (m) => (m < 25 ? { ok: true } : { ok: false, error: /tracing\.endpoint: Invalid value: "http:\/\/collector:4318": unsupported scheme: http\. {2}Options are none, dns, unix, or unix-abstract/ }),
  },
  {
    name: 'bad rate',
    files: (m) => ({
      '90-nodetracing.conf': {
        ...base,
        ...(needsGate(m) ? { featureGates: { KubeletTracing: true } } : {}),
        tracing: { samplingRatePerMillion: 1_000_001 },
      },
    }),
    expect: (m) => (m < 25 ? { ok: true } : { ok: false, error: /tracing\.samplingRatePerMillion/ }),
  },
  {
    name: 'drop-in without kind',
    dropinOnly: true,
    files: () => ({ '90-nodetracing.conf': { apiVersion: base.apiVersion, tracing } }),
    // Before 1.28 there is no --config-dir: the file is never read.
    expect: (m) => (m < 28 ? { ok: true } : { ok: false, error: /must have apiVersion and kind/ }),
  },
  {
    name: 'two drop-ins merged in lexical order',
    dropinOnly: true,
    files: (m) => ({
      '20-b.conf': { ...base, tracing: { samplingRatePerMillion: 7 }, evictionHard: { 'memory.available': null } },
      '10-a.conf': {
        ...base,
        ...(needsGate(m) ? { featureGates: { KubeletTracing: true } } : {}),
        tracing: { endpoint: 'a.example:4317', samplingRatePerMillion: 5 },
      },
      'zz-ignored.conf.tmp': 'not: [valid',
    }),
    expect: (m) => (m < 28 ? { ok: true } : { ok: true, tracing: { endpoint: 'a.example:4317', samplingRatePerMillion: 7 } }),
  },
];

const versions = ['v1.24.17', 'v1.25.16', 'v1.26.15', 'v1.27.16', 'v1.30.4', 'v1.33.1', 'v1.34.0', 'v1.36.2', 'v1.37.0', 'v1.38.1'];

describe('simulated kubelet config table', () => {
  for (const version of versions) {
    const m = minorOf(version);
    for (const c of cases) {
      test(`${version}: ${c.name}`, async () => {
        const k = await newKubelet(version);
        const dir = join(k.root, 'etc/kubernetes/kubelet.conf.d');
        const files = Object.entries(c.files(m)).sort(([a], [b]) => (a < b ? -1 : 1));
        if (k.dropinDir === undefined && !c.dropinOnly) {
          // No drop-in dir on this version: the same settings go into the main config.
          let main = parse(await readFile(k.configFile, 'utf8')) as unknown;
          for (const [, doc] of files) main = jsonMergePatch(main, doc);
          await writeFile(k.configFile, stringify(main));
        } else {
          await mkdir(dir, { recursive: true });
          for (const [name, doc] of files) {
            await writeFile(join(dir, name), typeof doc === 'string' ? doc : stringify(doc));
          }
        }
        await k.restart();
        assert.equal(await k.healthy(), false, 'not healthy right after restart');
        assert.equal(k.configz(), undefined);
        await settle(k);
        const want = c.expect(m);
        const z = k.configz();
        if (want.ok) {
          assert.equal(k.error, undefined, `unexpected error: ${k.error}`);
          assert.equal(await k.healthy(), true);
          assert.ok(z);
          assert.deepEqual(z.kubeletconfig['tracing'], want.tracing);
          assert.equal(z.kubeletconfig['cgroupDriver'], 'systemd');
          if (c.name.startsWith('two') && m >= 28) {
            assert.deepEqual(z.kubeletconfig['evictionHard'], { 'nodefs.available': '10%' });
          }
        } else {
          assert.equal(await k.healthy(), false);
          assert.equal(z, undefined);
          assert.match(k.error ?? '', want.error);
          assert.match((await k.lastError()) ?? '', want.error);
          const last = k.restartLog[k.restartLog.length - 1];
          assert.ok(last?.failedAt !== undefined && last.readyAt === undefined);
        }
        k.stop();
      });
    }
  }
});

describe('simulated kubelet behaviour', () => {
  test('lays out a kubeadm node with a fake process table', async () => {
    const k = await newKubelet('v1.29.3');
    const cmdline = await readFile(join(k.procRoot, String(k.proc.pid), 'cmdline'), 'utf8');
    const argv = cmdline.split('\0').filter((s) => s !== '');
    assert.equal(argv[0], '/usr/bin/kubelet');
    assert.ok(argv.includes('--config=/var/lib/kubelet/config.yaml'));
    assert.ok(argv.includes('--config-dir=/etc/kubernetes/kubelet.conf.d'));
    const environ = await readFile(join(k.procRoot, String(k.proc.pid), 'environ'), 'utf8');
    assert.ok(environ.split('\0').includes('KUBELET_CONFIG_DROPIN_DIR_ALPHA='));
    const cfg = await readFile(k.configFile, 'utf8');
    assert.match(cfg, /^# Generated by kubeadm/);
    assert.match(cfg, /cgroupDriver: systemd/);
    assert.equal(await k.healthy(), true);
    assert.equal(k.configz()?.kubeletconfig['kind'], 'KubeletConfiguration');
    k.stop();
  });

  test('1.30 drops the alpha env; 1.27 has no --config-dir; useDropinDir:false', async () => {
    const k30 = await newKubelet('v1.30.0');
    assert.equal(k30.proc.env['KUBELET_CONFIG_DROPIN_DIR_ALPHA'], undefined);
    assert.ok(k30.proc.argv.some((a) => a.startsWith('--config-dir=')));
    const k27 = await newKubelet('v1.27.3');
    assert.ok(!k27.proc.argv.some((a) => a.startsWith('--config-dir=')));
    const kmain = await newKubelet('v1.31.0', { useDropinDir: false });
    assert.equal(kmain.dropinDir, undefined);
    assert.throws(() => new SimKubelet({ nodeName: 'x', version: 'v1.27.0', root: '/nonexistent', restartMs: 1, useDropinDir: true }));
    for (const k of [k30, k27, kmain]) k.stop();
  });

  test('1.28 without the alpha env refuses --config-dir', async () => {
    const k = await newKubelet('v1.28.5');
    delete k.proc.env['KUBELET_CONFIG_DROPIN_DIR_ALPHA'];
    await k.restart();
    await settle(k);
    assert.equal(await k.healthy(), false);
    assert.match(k.error ?? '', /KUBELET_CONFIG_DROPIN_DIR_ALPHA/);
    k.stop();
  });

  test('rejectAll rejects tracing but not a config without it; a fixed config recovers', async () => {
    const k = await newKubelet('v1.31.0', { rejectAll: true });
    const file = join(k.dropinDir ?? '', '90-nodetracing.conf');
    await writeFile(file, stringify({ ...base, tracing }));
    await k.restart();
    await settle(k);
    assert.equal(await k.healthy(), false);
    assert.match(k.error ?? '', /simulated failure/);
    await rm(file);
    await k.restart();
    await settle(k);
    assert.equal(await k.healthy(), true);
    assert.equal(k.error, undefined);
    assert.equal(k.restartLog.length, 3);
    k.stop();
  });

  test('YAML parse errors stop the kubelet', async () => {
    const k = await newKubelet('v1.33.0', { useDropinDir: false });
    await writeFile(k.configFile, 'apiVersion: [unclosed\n');
    await k.restart();
    await settle(k);
    assert.equal(await k.healthy(), false);
    assert.match(k.error ?? '', /failed to decode kubelet config file/);
    k.stop();
  });

  test('reports status transitions and times restarts', async () => {
    const root = await mkdtemp(join(tmpdir(), 'simkubelet-'));
    roots.push(root);
    const seen: string[] = [];
    const k = new SimKubelet({
      nodeName: 'n',
      version: 'v1.32.0',
      root,
      restartMs: 20,
      onStatus: (s) => seen.push(`${s.running}/${s.ready}`),
    });
    await k.init();
    await k.restart();
    await settle(k);
    assert.deepEqual(seen, ['true/true', 'true/false', 'true/true']);
    const rec = k.restartLog[1];
    assert.ok(rec?.readyAt !== undefined && rec.readyAt - rec.startedAt >= 19);
    k.stop();
  });

  test('a restart during a restart supersedes it', async () => {
    const k = await newKubelet('v1.32.0');
    await k.restart();
    await k.restart();
    await settle(k);
    assert.equal(k.restartLog.length, 3);
    assert.ok(k.restartLog[1]?.supersededAt !== undefined && k.restartLog[1].readyAt === undefined);
    assert.ok(k.restartLog[2]?.readyAt !== undefined);
    assert.equal(await k.healthy(), true);
    k.stop();
  });

  test('stop() cancels a pending start', async () => {
    const k = await newKubelet('v1.32.0');
    await k.restart();
    k.stop();
    await new Promise((r) => setTimeout(r, RESTART_MS * 3));
    assert.equal(await k.healthy(), false);
    await assert.rejects(k.restart());
  });

  test('endpoint schemes the kubelet accepts and refuses', () => {
    const check = (endpoint: string): string => {
      try {
        validateKubeletConfig({ ...base, tracing: { endpoint } }, 30);
        return 'ok';
      } catch (e: unknown) {
        return e instanceof Error ? e.message : String(e);
      }
    };
    // Go's url.Parse, not WHATWG's URL: any digits as a port, a colon inside the host, "<" in a host.
    for (const ok of ['localhost:4317', 'dns://otel:4317', 'dns:///otel.svc:4317', 'unix:///var/run/otel.sock', 'unix-abstract://otel', 'otel',
      'dns:otel:4317', 'unix:/run/otel.sock', 'otel:99999', 'dns://:4317', 'u@otel:4317', 'ü.example:4317', 'otel:4317/x?%zz']) {
      assert.equal(check(ok), 'ok', ok);
    }
    for (const [bad, why] of [['otel{:4317', /invalid character "\{" in host name/], ['h%41:1', /invalid URL escape "%41"/], ['otel:4317/%zz', /invalid URL escape "%zz"/],
      ['unix:run/otel.sock', /parse "dns:\/\/unix:run\/otel.sock": invalid port ":run" after host/], ['[::1:4317', /missing '\]' in host/], ['//otel:4317', /unsupported scheme: \./]] as const) {
      assert.match(check(bad), why, bad);
    }
    for (const bad of ['http://otel:4318', 'https://otel:4318', 'grpc://otel:4317']) {
      assert.match(check(bad), /tracing\.endpoint.*unsupported scheme/, bad);
    }
    assert.match(check('otel collector:4317'), /tracing\.endpoint/);
    // No '//': read as dns://unix-abstract:otel, whose port is not a number (Go's url.Parse agrees).
    assert.match(check('unix-abstract:otel'), /tracing\.endpoint/);
    assert.deepEqual(validateKubeletConfig({ ...base, featureGates: { KubeletTracing: true } }, 35).warnings.length, 1);
    assert.throws(() => validateKubeletConfig({ ...base, featureGates: { NoSuchGate: true } }, 30), /unrecognized feature gate: NoSuchGate/);
    assert.throws(() => validateKubeletConfig({ ...base, featureGates: { KubeletTracing: 'yes' } }, 30), /expected a boolean/);
  });

  test('JSON merge patch follows RFC 7386', () => {
    assert.deepEqual(jsonMergePatch({ a: 'b', c: { d: 'e', f: 'g' } }, { a: 'z', c: { f: null } }), { a: 'z', c: { d: 'e' } });
    assert.deepEqual(jsonMergePatch({ a: [1, 2] }, { a: [3] }), { a: [3] });
    assert.deepEqual(jsonMergePatch({ a: 'b' }, { a: { c: 1 } }), { a: { c: 1 } });
    assert.deepEqual(jsonMergePatch({ a: 1 }, { b: null }), { a: 1 });
  });
});

describe('simulated kubelet health, told rather than polled', () => {
  test('untilHealthy resolves when a restart completes, and false when the kubelet crash-loops', async () => {
    const k = await newKubelet('v1.31.6');
    assert.equal(await k.untilHealthy(1_000), true, 'healthy already');
    await k.restart();
    assert.equal(await k.healthy(), false, 'restarting');
    assert.equal(await k.untilHealthy(5_000), true, 'told when the restart completes');
    const dropin = k.dropinDir ?? '';
    await writeFile(join(dropin, '50-bad.conf'), stringify({ ...base, featureGates: { NoSuchGate: true } }));
    await k.restart();
    assert.equal(await k.untilHealthy(50), false, 'a crash-looping kubelet never gets healthy');
    assert.match((await k.lastError()) ?? '', /unrecognized feature gate: NoSuchGate/);
    k.stop();
  });

  test('kubelets with the same files run the same config; configz hands out a copy', async () => {
    const a = await newKubelet('v1.30.10');
    const b = await newKubelet('v1.30.10');
    const ca = a.configz()?.kubeletconfig;
    assert.deepEqual(ca, b.configz()?.kubeletconfig, 'same files, same effective config');
    assert.equal(Object.isFrozen(ca), false, 'configz hands out a copy');
    a.stop();
    b.stop();
  });
});
