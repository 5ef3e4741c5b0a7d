// `kto demo --nodes 40` against its own ideal time, over several runs (the target is
// <= 1.25x). Prints each run's report and the median ratio. Not a test: figures only.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
};
const nodes = arg('nodes', '40');
const runs = Number(arg('runs', '5'));
const restartMs = arg('restart-ms', '1000');
const bin = fileURLToPath(new URL('../bin/kto.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kto-bench-demo-'));

interface Report { nodes: number; durationMs: number; idealDurationMs: number; maxConcurrentRestarts: number; maxUnavailable: number }
const ratios: number[] = [];
console.log(`kto demo --nodes ${nodes} --restart-ms ${restartMs}, ${runs} runs (compiled dist/, as npx kto runs it)`);
console.log('run  nodes  duration ms  ideal ms  ratio  peak/maxUnavailable');
for (let i = 1; i <= runs; i++) {
  const report = join(dir, `r${i}.json`);
  const r = spawnSync(process.execPath, [bin, 'demo', '--nodes', nodes, '--restart-ms', restartMs, '--report', report], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.log(`run ${i} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
    continue;
  }
  const j = JSON.parse(readFileSync(report, 'utf8')) as Report;
  const ratio = j.durationMs / j.idealDurationMs;
  ratios.push(ratio);
  console.log(`${String(i).padStart(3)}  ${String(j.nodes).padStart(5)}  ${String(j.durationMs).padStart(11)}  ${String(j.idealDurationMs).padStart(8)}  ${ratio.toFixed(2)}x  ${j.maxConcurrentRestarts}/${j.maxUnavailable}`);
}
rmSync(dir, { recursive: true, force: true });
const sorted = [...ratios].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
console.log(`median ratio ${median?.toFixed(2)}x (min ${sorted[0]?.toFixed(2)}x, max ${sorted.at(-1)?.toFixed(2)}x); target <= 1.25x`);
