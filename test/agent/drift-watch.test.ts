// The drift watch on real files: an edit is noticed through the directory watch, a file replaced
// by rename too, a removed directory and its return through the re-check, and a node whose
// directory cannot be watched (inotify at its limits) through the re-check alone.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { A_APPLIED_HASH, A_DESIRED_CONFIG, A_DESIRED_HASH, A_MESSAGE, A_STATE, A_STATE_HASH, A_STATE_TIME, DROPIN_FILE } from '../../src/api/annotations.js';
import type { KubeletLayout } from '../../src/agent/detect.js';
import { DriftWatch } from '../../src/agent/drift-watch.js';
import { renderDropin } from '../../src/agent/files.js';
import { recordingLogger, type LogEntry } from '../helpers/log.js';
import { waitFor } from '../helpers/rollout.js';

const config = { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', tracing: { samplingRatePerMillion: 100 } };
let root = '';
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'kto-drift-watch-'));
});
after(async () => rm(root, { recursive: true, force: true }));

/** A node: its drop-in dir with our drop-in, and the annotations of an Applied hand-off. */
async function node(name: string): Promise<{ layout: KubeletLayout; file: string; annotations: Record<string, string> }> {
  const dir = join(root, name, 'conf.d');
  await mkdir(dir, { recursive: true });
  const file = join(dir, DROPIN_FILE);
  await writeFile(file, renderDropin(config));
  const annotations = {
    [A_DESIRED_HASH]: 'h1', [A_DESIRED_CONFIG]: JSON.stringify(config), [A_STATE]: 'Applied', [A_STATE_HASH]: 'h1', [A_APPLIED_HASH]: 'h1', [A_STATE_TIME]: '2026-01-01T00:00:00.000Z',
  };
  return { layout: { mode: 'dropin', configFile: join(root, name, 'config.yaml'), dropinDir: dir }, file, annotations };
}

/** Runs the watch as the agent's loop does: a step at every wake, reports applied to the annotations. */
function loop(n: Awaited<ReturnType<typeof node>>, w: { wakes: number }, opts: ConstructorParameters<typeof DriftWatch>[0] = {}, log?: (e: LogEntry) => void) {
  let annotations = { ...n.annotations };
  const reports: Array<Record<string, string | null>> = [];
  const watch: DriftWatch = new DriftWatch(opts, () => {
    w.wakes++;
    void step();
  }, log ? recordingLogger(log) : undefined);
  async function step(): Promise<void> {
    const r = await watch.step(annotations, n.layout, Date.now());
    if (!r) return;
    reports.push(r);
    annotations = Object.fromEntries(Object.entries({ ...annotations, ...r }).filter((e): e is [string, string] => e[1] !== null));
  }
  return { watch, step, reports, state: () => annotations[A_STATE], message: () => annotations[A_MESSAGE] };
}

test('an edit in place and a file renamed over ours are noticed through the watch; undoing it clears', async () => {
  const n = await node('a');
  const w = { wakes: 0 };
  const l = loop(n, w);
  await l.step(); // the first look, as at agent start
  assert.equal(l.reports.length, 0);
  assert.equal(l.watch.watching, true);
  const original = renderDropin(config);
  await writeFile(n.file, original.replace('100', '5'));
  await waitFor('drift seen', () => l.state() === 'Drifted', 5_000, 10);
  assert.equal(l.message(), '90-nodetracing.conf was changed: tracing.samplingRatePerMillion is 5, want 100');
  await writeFile(`${n.file}.tmp`, original);
  await rename(`${n.file}.tmp`, n.file);
  await waitFor('drift cleared', () => l.state() === 'Applied', 5_000, 10);
  l.watch.close();
});

test('the drop-in directory removed whole, then made again: both seen', async () => {
  const n = await node('b');
  const l = loop(n, { wakes: 0 }, { pollMs: 200 });
  await l.step();
  await rm(join(root, 'b', 'conf.d'), { recursive: true });
  await waitFor('deletion seen', () => l.message() === '90-nodetracing.conf was deleted', 5_000, 10);
  assert.equal(l.watch.watching, false, 'no directory to watch: re-checked instead');
  await mkdir(join(root, 'b', 'conf.d'));
  await writeFile(n.file, renderDropin(config));
  // The re-check runs on the process's one timer (1 s ticks).
  await waitFor('its return seen', () => l.state() === 'Applied', 5_000, 20);
  await waitFor('watched again', async () => {
    await l.step();
    return l.watch.watching;
  }, 5_000, 50);
  l.watch.close();
});

test('a directory that cannot be watched (inotify limits) is re-checked on the timer, and the agent says so once', async () => {
  const n = await node('c');
  const logs: LogEntry[] = [];
  const enospc = (() => {
    throw Object.assign(new Error('ENOSPC: System limit for number of file watchers reached, watch'), { code: 'ENOSPC' });
  }) as unknown as typeof import('node:fs').watch;
  const l = loop(n, { wakes: 0 }, { watch: enospc, pollMs: 300 }, (e) => logs.push(e));
  await l.step();
  assert.equal(l.watch.watching, false);
  await writeFile(n.file, 'nope: 1\n');
  await waitFor('drift seen by the re-check', () => l.state() === 'Drifted', 5_000, 20);
  const warned = logs.filter((e) => e.level === 'warn');
  assert.equal(warned.length, 1, JSON.stringify(logs));
  assert.match(warned[0]?.msg ?? '', /inotify limits reached: fs\.inotify\.max_user_watches \/ max_user_instances\); re-checking it every 300 ms instead/);
  l.watch.close();
});
