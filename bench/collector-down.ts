// What tracing costs a rollout, and what a dead collector costs it: rollout wall time on the
// embedded cluster with tracing to a live OTLP receiver, to a closed port, and off.
//   node --import tsx bench/collector-down.ts [--nodes 20] [--restart-ms 100] [--max-unavailable 5] [--runs 3]
import { parseArgs } from 'node:util';
import { closedPort, startReceiver, startRolloutEnv } from '../test/telemetry/harness.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '20' },
    'restart-ms': { type: 'string', default: '100' },
    'max-unavailable': { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
  },
});
const nodes = Number(values.nodes);
const restartMs = Number(values['restart-ms']);
const maxUnavailable = Number(values['max-unavailable']);
const runs = Number(values.runs);

interface Row {
  mode: string;
  rolloutMs: number[];
  stopMs: number[];
  spans: number[];
}

async function one(endpoint: string | undefined): Promise<{ rolloutMs: number; stopMs: number; spans: number }> {
  const env = await startRolloutEnv({ nodes, restartMs, maxUnavailable, ...(endpoint !== undefined ? { endpoint } : {}) });
  try {
    const { summary, durationMs } = await env.rollout('bench', 120_000);
    if (summary.updated !== nodes) throw new Error(`only ${summary.updated}/${nodes} nodes updated`);
    const t0 = performance.now();
    await env.stop();
    const stopMs = performance.now() - t0;
    const text = await env.registry.metrics();
    const spans = Number(/^kto_spans_exported_total (\d+)$/m.exec(text)?.[1] ?? 0);
    return { rolloutMs: durationMs, stopMs, spans };
  } catch (err) {
    await env.stop(1_000);
    throw err;
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

const receiver = await startReceiver();
const down = `http://127.0.0.1:${await closedPort()}`;
const modes: Array<[string, string | undefined]> = [
  ['tracing off', undefined],
  ['live collector', receiver.url],
  ['collector down', down],
];
const rows: Row[] = modes.map(([mode]) => ({ mode, rolloutMs: [], stopMs: [], spans: [] }));
try {
  // Interleaved, so drift (JIT warm-up, a busy machine) spreads over every mode.
  await one(undefined); // warm-up, not counted
  for (let r = 0; r < runs; r++) {
    for (const [i, [, endpoint]] of modes.entries()) {
      const res = await one(endpoint);
      const row = rows[i];
      row?.rolloutMs.push(res.rolloutMs);
      row?.stopMs.push(res.stopMs);
      row?.spans.push(res.spans);
    }
  }
} finally {
  await receiver.close();
}

const base = median(rows[0]?.rolloutMs ?? []);
process.stdout.write(
  `rollout of ${nodes} nodes, kubelet restart ${restartMs} ms, maxUnavailable ${maxUnavailable}; ${runs} runs each (median)\n\n` +
    `${'mode'.padEnd(16)} ${'rollout ms'.padStart(10)} ${'vs off'.padStart(8)} ${'stop ms'.padStart(8)} ${'spans exported'.padStart(15)}  runs (rollout ms)\n`,
);
for (const r of rows) {
  const med = median(r.rolloutMs);
  const pct = ((med - base) / base) * 100;
  process.stdout.write(
    `${r.mode.padEnd(16)} ${med.toFixed(0).padStart(10)} ${`${pct >= 0 ? '+' : ''}${pct.toFixed(1)}%`.padStart(8)} ${median(r.stopMs).toFixed(0).padStart(8)} ${String(median(r.spans)).padStart(15)}  ${r.rolloutMs.map((x) => x.toFixed(0)).join(', ')}\n`,
  );
}
process.stdout.write(`\nideal (waves x restart): ${Math.ceil(nodes / maxUnavailable) * restartMs} ms; "stop" includes the final span flush\n`);
