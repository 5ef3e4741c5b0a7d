// Chaos on the node agent's write path, one level above writeFileAtomic (which
// test/agent/atomic.test.ts already interrupts 1,000 times): applyDesired is "SIGKILLed" at a
// seeded step of its file operations (journal, temp files, fsyncs, renames, the state file of the
// main-file mode, the kubelet restart itself). From that moment every operation of the dead agent
// hangs forever, as a dead process does nothing more. Then:
//  - each file the agent manages holds its old bytes or its new bytes, never a torn mix;
//  - a kubelet started on those files at that moment (a node reboot) starts, unless the new
//    config is one the kubelet refuses;
//  - a restarted agent (a fresh applyDesired for the same desired hash, the journal path) ends
//    with the kubelet healthy on the desired config, or rolled back to the real previous bytes
//    for a config the kubelet refuses.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type ApplyOptions, applyDesired, journalPath } from '../../src/agent/apply.js';
import { type FileHandleOps, type FsOps, realFsOps } from '../../src/agent/atomic.js';
import { detectKubeletLayout, type KubeletLayout } from '../../src/agent/detect.js';
import { backupPath, type KubeletConfigObject, planChanges, statePath } from '../../src/agent/files.js';
import type { KubeletHealthProbeWithError, KubeletRestarter } from '../../src/agent/interfaces.js';
import { realClock } from '../../src/util/clock.js';
import { loadKubeletConfig } from '../../src/sim/kubelet/config.js';
import { SimKubelet } from '../../src/sim/kubelet/kubelet.js';
import { prng } from '../helpers/policy.js';

const roots: string[] = [];
const kubelets: SimKubelet[] = [];
after(async () => {
  for (const k of kubelets) k.stop();
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

/** One agent process that dies at step `killAt` of its fs operations and kubelet restarts. */
class DyingAgent {
  private step = 0;
  dead = false;
  private onDeath: (() => void) | undefined;
  readonly died = new Promise<void>((r) => (this.onDeath = r));

  /** Dies at call number `killAt`, or at the first call `killWhen` picks (op name, path). */
  constructor(
    private readonly killAt: number,
    private readonly killWhen?: (op: string, path: string) => boolean,
  ) {}

  get steps(): number {
    return this.step;
  }

  /** True when this call is the fatal one; a dead agent's calls never return. */
  private tick(op = '', path = ''): boolean {
    if (this.dead) return true;
    const fatal = this.step++ === this.killAt || (this.killWhen?.(op, path) ?? false);
    if (!fatal) return false;
    this.dead = true;
    this.onDeath?.();
    return true;
  }

  /** The kernel closes a dead process's descriptors; nothing else happens. */
  private async exit(h: FileHandleOps): Promise<never> {
    await h.close().catch(() => undefined);
    return never();
  }

  readonly fs: FsOps = {
    open: async (path, flags, mode) => {
      if (this.tick('open', path)) return never();
      const h = await realFsOps.open(path, flags, mode);
      const wrapped: FileHandleOps = {
        write: async (data) => {
          if (this.tick()) {
            // Killed mid-write: part of the bytes reached the (temp) file.
            await h.write(data.subarray(0, Math.floor(data.length / 2)));
            return this.exit(h);
          }
          await h.write(data);
        },
        sync: async () => (this.tick() ? this.exit(h) : h.sync()),
        close: async () => (this.tick() ? this.exit(h) : h.close()),
      };
      return wrapped;
    },
    rename: async (from, to) => (this.tick('rename', to) ? never() : realFsOps.rename(from, to)),
    unlink: async (path) => (this.tick('unlink', path) ? never() : realFsOps.unlink(path)),
    readdir: async (dir) => (this.tick('readdir', dir) ? never() : realFsOps.readdir(dir)),
    mode: async (path) => (this.tick('mode', path) ? never() : realFsOps.mode(path)),
  };

  restarter(k: SimKubelet): KubeletRestarter {
    return { restart: async () => (this.tick('restart') ? never() : k.restart()) };
  }

  health(k: SimKubelet): KubeletHealthProbeWithError {
    return {
      healthy: async () => (this.dead ? never() : k.healthy()),
      lastError: async () => (this.dead ? never() : k.lastError()),
    };
  }
}

interface Node {
  k: SimKubelet;
  layout: KubeletLayout;
}

async function node(version: string): Promise<Node> {
  // tmpfs where there is one: a thousand fsyncs on a disk would dominate the run.
  const root = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'agent-chaos-'));
  roots.push(root);
  const k = new SimKubelet({ nodeName: 'n', version, root, restartMs: 1 });
  await k.init();
  kubelets.push(k);
  return { k, layout: await detectKubeletLayout({ hostRoot: root, procRoot: k.procRoot, kubeletVersion: version }) };
}

function files(n: Node): string[] {
  const { layout } = n;
  return layout.mode === 'dropin'
    ? [join(layout.dropinDir, '90-nodetracing.conf'), journalPath(layout)]
    : [layout.configFile, statePath(layout.configFile), backupPath(layout.configFile), journalPath(layout)];
}

async function read(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

async function bytes(n: Node): Promise<Map<string, string | null>> {
  return new Map(await Promise.all(files(n).map(async (f) => [f, await read(f)] as const)));
}

/** What the kubelet would do if it (re)started on the files as they are now. */
async function bootCheck(n: Node): Promise<string | undefined> {
  try {
    await loadKubeletConfig({ configFile: n.k.configFile, ...(n.k.dropinDir ? { dropinDir: n.k.dropinDir } : {}), env: n.k.proc.env, minor: n.k.minor });
    return undefined;
  } catch (e: unknown) {
    return e instanceof Error ? e.message : String(e);
  }
}

type Desired = { hash: string; config: KubeletConfigObject | null; bad: boolean };

function desiredFor(rand: () => number, i: number, gate: boolean, badGate: boolean): Desired {
  const roll = rand();
  if (roll < 0.15) return { hash: 'removed', config: null, bad: false };
  const tracing = { endpoint: `otel-${i % 7}.observability.svc:4317`, samplingRatePerMillion: i };
  if (roll < 0.25) {
    // A config this kubelet refuses: the gate set to false where it is locked, or no gate
    // where it is alpha.
    const config = badGate ? { featureGates: { KubeletTracing: false }, tracing } : { tracing };
    return { hash: `bad-${i}`, config: { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', ...config }, bad: true };
  }
  const config = { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', ...(gate ? { featureGates: { KubeletTracing: true } } : {}), tracing };
  return { hash: `good-${i}`, config, bad: false };
}

function opts(n: Node, d: Desired, over: Partial<ApplyOptions> = {}): ApplyOptions {
  // A refused config waits out the whole timeout: keep it short, long enough for 1 ms restarts.
  return { layout: n.layout, desired: { hash: d.hash, config: d.config }, restarter: n.k, health: n.k, clock: realClock, timeoutMs: d.bad ? 15 : 2_000, pollMs: 1, ...over };
}

/** Seeded applies on one node until `kills` of them were interrupted (a kill point past the
 *  end of a short apply lets it finish: those check the uninterrupted path). */
async function chaos(version: string, seed: number, kills: number, gate: boolean, badGate: boolean): Promise<{ killed: number; runs: number; maxStep: number }> {
  const n = await node(version);
  const rand = prng(seed);
  // Calibrate: the most steps one uninterrupted apply takes here (first apply, main mode: the
  // backup too), so kill points cover every step and a few runs go through unharmed.
  const probe = new DyingAgent(Number.POSITIVE_INFINITY);
  const first = desiredFor(() => 0.5, 0, gate, badGate);
  const r0 = await applyDesired({ ...opts(n, first), fs: probe.fs, restarter: probe.restarter(n.k), health: probe.health(n.k) });
  assert.equal(r0.state, 'Applied', r0.message);
  const maxStep = probe.steps + 4;
  let killed = 0;
  let i = 0;
  while (killed < kills && i < kills * 2) {
    i++;
    const d = desiredFor(rand, i, gate, badGate);
    const killAt = Math.floor(rand() * maxStep);
    const ctx = `seed ${seed} ${version} iteration ${i} (${d.hash}, kill at step ${killAt})`;
    const before = await bytes(n);
    const planned = new Map((await planChanges(n.layout, d.config)).map((c) => [c.path, c.content]));

    const agent = new DyingAgent(killAt);
    const dying = applyDesired({ ...opts(n, d), fs: agent.fs, restarter: agent.restarter(n.k), health: agent.health(n.k) });
    const outcome = await Promise.race([dying.then((r) => r), agent.died.then(() => 'killed' as const)]);
    if (outcome === 'killed') {
      killed++;
      // Old or new bytes, file by file. The journal is ours alone: absent or whole JSON.
      for (const [path, now] of await bytes(n)) {
        if (path === journalPath(n.layout)) {
          if (now !== null) assert.doesNotThrow(() => JSON.parse(now), `${ctx}: torn journal`);
          continue;
        }
        const old = before.get(path) ?? null;
        const next = planned.has(path) ? (planned.get(path) ?? null) : old;
        assert.ok(now === old || now === next, `${ctx}: ${path} is neither the old nor the new bytes`);
      }
      const confs = n.layout.mode === 'dropin' ? (await readdir(n.layout.dropinDir)).filter((f) => f.endsWith('.conf')) : [];
      assert.ok(confs.every((f) => f === '90-nodetracing.conf'), `${ctx}: stray drop-in ${confs.join(',')}`);
      if (!d.bad) assert.equal(await bootCheck(n), undefined, `${ctx}: a kubelet started now would not come up`);
      // The restarted agent: same desired hash, real fs, runs to the end.
      const again = await applyDesired(opts(n, d));
      const want = d.bad ? 'RolledBack' : 'Applied';
      // A refused config that died before the kubelet ever restarted on it, and before the
      // journal existed, is simply written and refused again: RolledBack either way.
      assert.equal(again.state, want, `${ctx}: restarted agent ended ${again.state}: ${again.message ?? ''}`);
    } else {
      assert.equal(outcome.state, d.bad ? 'RolledBack' : 'Applied', `${ctx}: uninterrupted apply: ${outcome.message ?? ''}`);
    }
    assert.equal(await n.k.healthy(), true, `${ctx}: kubelet not healthy at the end`);
    const tracing = n.k.configz()?.kubeletconfig['tracing'];
    if (d.bad) {
      for (const [path, now] of await bytes(n)) {
        if (path === journalPath(n.layout)) assert.equal(now, null, `${ctx}: journal left after rollback`);
        else assert.equal(now, before.get(path) ?? null, `${ctx}: ${path} not restored to the previous bytes`);
      }
    } else {
      assert.deepEqual(tracing, d.config?.['tracing'], `${ctx}: kubelet runs the wrong tracing config`);
      // Interrupted or not, the files end exactly as one uninterrupted apply would leave them.
      for (const [path, want] of planned) assert.equal(await read(path), want, `${ctx}: ${path} differs from an uninterrupted apply`);
      assert.equal(await read(journalPath(n.layout)), null, `${ctx}: journal left after a finished apply`);
    }
  }
  return { killed, runs: i, maxStep };
}

test('drop-in node (1.34): 1,000 seeded kills of applyDesired, old-or-new files, the restarted agent finishes', async (t) => {
  const r = await chaos('v1.34.0', 0xa9e17, 1000, false, true);
  t.diagnostic(`${r.killed} of ${r.runs} applies killed (kill points 0..${r.maxStep - 1})`);
  assert.equal(r.killed, 1000);
});

test('main-file node (1.26, gate in the main config): 300 seeded kills, the restarted agent ends as an uninterrupted apply', async (t) => {
  const r = await chaos('v1.26.15', 0x51ab, 300, true, false);
  t.diagnostic(`${r.killed} of ${r.runs} applies killed (kill points 0..${r.maxStep - 1})`);
  assert.equal(r.killed, 300);
});

test('main-file node (1.27): killed between the state file and the config, the gate it set is still given back on removal', async () => {
  const n = await node('v1.27.16');
  assert.equal(n.layout.mode, 'main');
  const original = await readFile(n.layout.configFile, 'utf8');
  const tracing = { samplingRatePerMillion: 1 };
  const base = { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration' };
  // featureGate: Always writes the gate; then the policy goes back to Auto (no gate on 1.27).
  const always: Desired = { hash: 'always', config: { ...base, featureGates: { KubeletTracing: true }, tracing }, bad: false };
  const auto: Desired = { hash: 'auto', config: { ...base, tracing: { samplingRatePerMillion: 2 } }, bad: false };
  assert.equal((await applyDesired(opts(n, always))).state, 'Applied');
  // Dies as it opens the temp file for config.yaml: the new state file is in place, the config not.
  const agent = new DyingAgent(Number.POSITIVE_INFINITY, (op, path) => op === 'open' && /\/\.config\.yaml\.\d+\.[0-9a-f]+\.tmp$/.test(path));
  void applyDesired({ ...opts(n, auto), fs: agent.fs, restarter: agent.restarter(n.k), health: agent.health(n.k) });
  await agent.died;
  assert.equal((await applyDesired(opts(n, auto))).state, 'Applied');
  assert.equal((await applyDesired(opts(n, { hash: 'removed', config: null, bad: false }))).state, 'Applied');
  assert.equal(await readFile(n.layout.configFile, 'utf8'), original, 'config.yaml is not back to the bytes the user had');
});
