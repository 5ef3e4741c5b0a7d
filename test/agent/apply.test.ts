import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { REMOVED_HASH } from '../../src/api/annotations.js';
import { type ApplyOptions, type ApplyPhase, applyDesired, journalPath } from '../../src/agent/apply.js';
import { detectKubeletLayout, type KubeletLayout } from '../../src/agent/detect.js';
import { realClock } from '../../src/util/clock.js';
import { SimKubelet } from '../../src/sim/kubelet/kubelet.js';

const roots: string[] = [];
const kubelets: SimKubelet[] = [];
after(async () => {
  for (const k of kubelets) k.stop();
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

async function node(version: string, extra: { rejectAll?: boolean; useDropinDir?: boolean } = {}): Promise<{ k: SimKubelet; layout: KubeletLayout }> {
  const root = await mkdtemp(join(tmpdir(), 'apply-'));
  roots.push(root);
  const k = new SimKubelet({ nodeName: 'n', version, root, restartMs: 20, ...extra });
  await k.init();
  kubelets.push(k);
  const layout = await detectKubeletLayout({ hostRoot: root, procRoot: k.procRoot, kubeletVersion: version });
  return { k, layout };
}

const tracing = { endpoint: 'otel-collector.observability.svc:4317', samplingRatePerMillion: 10000 };
const cfg = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'kubelet.config.k8s.io/v1beta1',
  kind: 'KubeletConfiguration',
  ...extra,
  tracing,
});

/**
 * An agent that "dies" when it reaches the restart (its promise never settles): `reached` resolves
 * then, with the files written. (Waiting for a file to appear instead raced with the atomic
 * writer's temp file, which shows up before the drop-in itself.)
 */
function dieAtRestart(): { onPhase: NonNullable<ApplyOptions['onPhase']>; reached: Promise<void> } {
  let reachedRestart!: () => void;
  const reached = new Promise<void>((resolve) => (reachedRestart = resolve));
  const onPhase: NonNullable<ApplyOptions['onPhase']> = (p, fn) => {
    if (p !== 'restart') return fn();
    reachedRestart();
    return new Promise<never>(() => undefined);
  };
  return { onPhase, reached };
}

function opts(k: SimKubelet, layout: KubeletLayout, hash: string, config: Record<string, unknown> | null): ApplyOptions {
  return { layout, desired: { hash, config }, restarter: k, health: k, clock: realClock, timeoutMs: 500, pollMs: 5 };
}

describe('applyDesired against the simulated kubelet', () => {
  test('good config: Applied, configz shows tracing; re-apply does not restart', async () => {
    const { k, layout } = await node('v1.31.2');
    assert.equal(layout.mode, 'dropin');
    const phases: ApplyPhase[] = [];
    const res = await applyDesired({
      ...opts(k, layout, 'h1', cfg()),
      onPhase: (p, fn) => {
        phases.push(p);
        return fn();
      },
    });
    assert.equal(res.state, 'Applied', res.message);
    assert.equal(res.restarted, true);
    assert.ok(res.durationMs >= 19);
    assert.deepEqual(phases, ['write', 'restart', 'health']);
    assert.deepEqual(k.configz()?.kubeletconfig['tracing'], tracing);
    assert.equal(k.restartLog.length, 2);

    const again = await applyDesired(opts(k, layout, 'h1', cfg()));
    assert.deepEqual({ state: again.state, restarted: again.restarted }, { state: 'Applied', restarted: false });
    assert.equal(k.restartLog.length, 2, 'no restart for an idempotent re-apply');
    await assert.rejects(readFile(journalPath(layout)), /ENOENT/);

    const removed = await applyDesired(opts(k, layout, REMOVED_HASH, null));
    assert.equal(removed.state, 'Applied');
    assert.equal(k.configz()?.kubeletconfig['tracing'], undefined);
    assert.deepEqual(await readdir(layout.mode === 'dropin' ? layout.dropinDir : ''), []);
  });

  test('a gate the 1.37 kubelet does not know: RolledBack with its error, file restored, healthy', async () => {
    const { k, layout } = await node('v1.37.0');
    const res = await applyDesired(opts(k, layout, 'h2', cfg({ featureGates: { KubeletTracing: true } })));
    assert.equal(res.state, 'RolledBack');
    assert.match(res.message ?? '', /unrecognized feature gate: KubeletTracing/);
    assert.match(res.message ?? '', /previous config restored/);
    assert.equal(await k.healthy(), true);
    assert.equal(k.restartLog.length, 3, 'init, apply, rollback');
    assert.ok(k.restartLog[1]?.failedAt !== undefined);
    assert.deepEqual(await readdir(layout.mode === 'dropin' ? layout.dropinDir : ''), []);
    assert.equal(k.configz()?.kubeletconfig['tracing'], undefined);
  });

  test('main mode on 1.26 without the gate: RolledBack and the main config is byte-identical', async () => {
    const { k, layout } = await node('v1.26.9');
    assert.equal(layout.mode, 'main');
    const before = await readFile(layout.configFile, 'utf8');
    const res = await applyDesired(opts(k, layout, 'h3', cfg()));
    assert.equal(res.state, 'RolledBack');
    assert.match(res.message ?? '', /feature gate is disabled/);
    assert.equal(await readFile(layout.configFile, 'utf8'), before);
    assert.equal(await k.healthy(), true);
    // With the gate it works, and comments survive.
    const ok = await applyDesired(opts(k, layout, 'h4', cfg({ featureGates: { KubeletTracing: true } })));
    assert.equal(ok.state, 'Applied', ok.message);
    assert.deepEqual(k.configz()?.kubeletconfig['tracing'], tracing);
    assert.ok((await readFile(layout.configFile, 'utf8')).startsWith(before));
  });

  test('rejectAll node: RolledBack; a probe that never recovers: Failed', async () => {
    const { k, layout } = await node('v1.33.0', { rejectAll: true });
    const res = await applyDesired(opts(k, layout, 'h5', cfg()));
    assert.equal(res.state, 'RolledBack');
    assert.match(res.message ?? '', /simulated failure/);

    const { k: k2, layout: l2 } = await node('v1.33.0', { rejectAll: true });
    const dead = { healthy: async () => false };
    const failed = await applyDesired({ ...opts(k2, l2, 'h6', cfg()), health: dead, timeoutMs: 60 });
    assert.equal(failed.state, 'Failed');
    assert.match(failed.message ?? '', /not healthy within 60 ms.*did not bring the kubelet back/);
    assert.equal(await k2.healthy(), true, 'the sim itself did come back on the restored files');
  });

  test('agent dies mid-apply: the next run restarts although the files match', async () => {
    const { k, layout } = await node('v1.30.1');
    // The first agent writes and then "dies" before restarting (its promise never settles).
    const died = dieAtRestart();
    void applyDesired({ ...opts(k, layout, 'h7', cfg()), onPhase: died.onPhase });
    await died.reached;
    assert.equal(k.restartLog.length, 1);
    const res = await applyDesired(opts(k, layout, 'h7', cfg()));
    assert.deepEqual({ state: res.state, restarted: res.restarted }, { state: 'Applied', restarted: true });
    assert.deepEqual(k.configz()?.kubeletconfig['tracing'], tracing);
    await assert.rejects(readFile(journalPath(layout)), /ENOENT/);
  });

  test('agent dies mid-apply of a bad config: the next run still rolls back to the real previous bytes', async () => {
    const { k, layout } = await node('v1.34.1');
    const died = dieAtRestart();
    void applyDesired({ ...opts(k, layout, 'h8', cfg({ featureGates: { KubeletTracing: false } })), onPhase: died.onPhase });
    await died.reached;
    const res = await applyDesired(opts(k, layout, 'h8', cfg({ featureGates: { KubeletTracing: false } })));
    assert.equal(res.state, 'RolledBack');
    assert.match(res.message ?? '', /locked to true/);
    assert.deepEqual(await readdir(layout.mode === 'dropin' ? layout.dropinDir : ''), []);
    assert.equal(await k.healthy(), true);
  });
});
