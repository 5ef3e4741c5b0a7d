// The sim's CPU cost of kubelet span export at scale: an embedded cluster of N nodes (no agents),
// idle CPU measured first, then every supported kubelet given the rendered tracing config
// directly (the drop-in, or the main config below 1.28, as the agent writes them) and restarted,
// and the CPU measured again while they export. The collector runs in its own process
// (bench/otlp-sink.ts) unless --in-process-collector, so the figure is the sim's own.
// --exporter-per-kubelet gives each kubelet its own exporter and gRPC channel, as on real nodes,
// to show what sharing one per endpoint saves.
//   node --import tsx bench/kubelet-spans.ts [--nodes 5000] [--spans-per-second 2.7] [--rate 10000] [--window 20] [--in-process-collector] [--exporter-per-kubelet]
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse, stringify } from 'yaml';
import { DROPIN_FILE } from '../src/api/annotations.js';
import { render } from '../src/render/render.js';
import { OtlpReceiver } from '../src/sim/collector/index.js';
import { IDLE_KUBELET_SPANS_PER_SECOND } from '../src/sim/kubelet/span-mix.js';
import type { SimKubelet } from '../src/sim/kubelet/kubelet.js';
import { Stack } from '../src/wiring.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '5000' },
    'spans-per-second': { type: 'string', default: String(IDLE_KUBELET_SPANS_PER_SECOND) },
    rate: { type: 'string', default: '10000' },
    window: { type: 'string', default: '20' },
    'in-process-collector': { type: 'boolean', default: false },
    'exporter-per-kubelet': { type: 'boolean', default: false },
  },
});
const nodes = Number(values.nodes);
const spansPerSecond = Number(values['spans-per-second']);
const rate = Number(values.rate);
const windowMs = Number(values.window) * 1000;

async function startSink(): Promise<{ endpoint: string; received: () => Promise<number> }> {
  if (values['in-process-collector']) {
    const r = await OtlpReceiver.start({ httpPort: null, maxSpans: 1_000 });
    return { endpoint: r.kubeletEndpoint, received: async () => { const n = r.received; await r.stop(); return n; } };
  }
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'otlp-sink.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const endpoint = await new Promise<string>((resolve) => {
    const check = () => { const m = /listening (\S+)/.exec(out); if (m?.[1]) resolve(m[1]); else setTimeout(check, 50); };
    check();
  });
  return {
    endpoint,
    received: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      return Number(/received (\d+)/.exec(out)?.[1] ?? NaN);
    },
  };
}

/** CPU of this process (user + system) over the next windowMs, as a share of one core. */
async function cpuOver(ms: number): Promise<number> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / (performance.now() - t0);
}

/** Puts the rendered config where the agent would and restarts the kubelet. */
async function applyDirectly(k: SimKubelet, endpoint: string): Promise<boolean> {
  const r = render({ nodeSelector: {}, tracing: { endpoint, samplingRatePerMillion: rate } }, k.version);
  if (!r.supported) return false;
  if (k.dropinDir) await writeFile(join(k.dropinDir, DROPIN_FILE), stringify(r.config));
  else {
    const main = parse(await readFile(k.configFile, 'utf8')) as Record<string, unknown>;
    await writeFile(k.configFile, stringify({ ...main, tracing: r.config.tracing, ...(r.config.featureGates ? { featureGates: r.config.featureGates } : {}) }));
  }
  await k.restart();
  return true;
}

const sink = await startSink();
const t0 = performance.now();
const stack = await Stack.start({ cluster: { nodes, agents: false, restartMs: 100, kubeletSpans: { spansPerSecond, exporterPerKubelet: values['exporter-per-kubelet'] } } });
const { cluster } = stack;
process.stdout.write(`${nodes} nodes up in ${((performance.now() - t0) / 1000).toFixed(1)} s; collector ${sink.endpoint} (${values['in-process-collector'] ? 'in this process' : 'own process'})\n`);
try {
  const idle = await cpuOver(windowMs);
  process.stdout.write(`idle, no tracing: ${(idle * 100).toFixed(1)}% of a core over ${windowMs / 1000} s\n`);
  const kubelets = [...cluster.kubelets.values()];
  let traced = 0;
  for (let i = 0; i < kubelets.length; i += 200) {
    const batch = await Promise.all(kubelets.slice(i, i + 200).map((k) => applyDirectly(k, sink.endpoint)));
    traced += batch.filter(Boolean).length;
  }
  const tracing = cluster.kubeletTracing;
  if (!tracing) throw new Error('no kubelet tracing');
  while (tracing.tracedKubelets < traced) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 2_000)); // past the restarts' own work
  const startedBefore = kubelets.reduce((s, k) => s + tracing.stats(k.nodeName).started, 0);
  const exportedBefore = tracing.endpointStats().reduce((s, e) => s + e.exported, 0);
  const busy = await cpuOver(windowMs);
  const started = kubelets.reduce((s, k) => s + tracing.stats(k.nodeName).started, 0) - startedBefore;
  const exported = tracing.endpointStats().reduce((s, e) => s + e.exported, 0) - exportedBefore;
  const mem = process.memoryUsage();
  process.stdout.write(
    `${traced} kubelets tracing at ${rate} per million, ${spansPerSecond} spans/s each, through ${tracing.endpointStats().length} exporter(s):\n` +
      `  CPU ${(busy * 100).toFixed(1)}% of a core (export: +${((busy - idle) * 100).toFixed(1)} points over idle)\n` +
      `  ${(started / (windowMs / 1000)).toFixed(0)} spans started/s, ${(exported / (windowMs / 1000)).toFixed(0)} exported/s; failed ${tracing.endpointStats().reduce((s, e) => s + e.failed, 0)}\n` +
      `  rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB, heap ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB\n`,
  );
} finally {
  await stack.stop();
  process.stdout.write(`collector received ${await sink.received()} spans in all\n`);
}
