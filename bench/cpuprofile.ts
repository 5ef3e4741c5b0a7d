// Summarises a V8 .cpuprofile (node --cpu-prof): the functions with the most self time, so a
// bench that misses a target can say where the time went.
//   node --import tsx bench/cpuprofile.ts FILE.cpuprofile [--top 15]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The benches' sampling interval: over a rollout of seconds still thousands of samples, at a
 *  tenth of the cost of V8's default 1 ms. */
export const PROFILE_INTERVAL_US = 10_000;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  fn: string;
  where: string;
  ms: number;
  share: number;
}

/** Self time per function (summed over the call sites), largest first. */
export function selfTimes(p: Profile): { totalMs: number; rows: SelfTime[] } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const ms = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] ?? 0;
    ms.set(id, (ms.get(id) ?? 0) + (deltas[i] ?? 0) / 1000);
  }
  const agg = new Map<string, SelfTime>();
  let total = 0;
  for (const [id, t] of ms) {
    const n = byId.get(id);
    if (!n) continue;
    const cf = n.callFrame;
    if (cf.functionName === '(idle)' || cf.functionName === '(program)') continue;
    // The inspector's own Profiler.stop, when a process profiles itself.
    if (cf.functionName === 'dispatch' && cf.url === '') continue;
    total += t;
    const where = cf.url ? `${shorten(cf.url)}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName}@${where}`;
    const row = agg.get(key) ?? { fn: cf.functionName || '(anonymous)', where, ms: 0, share: 0 };
    row.ms += t;
    agg.set(key, row);
  }
  const rows = [...agg.values()].sort((a, b) => b.ms - a.ms);
  for (const r of rows) r.share = total > 0 ? r.ms / total : 0;
  return { totalMs: total, rows };
}

function shorten(url: string): string {
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) return u.slice(nm + 'node_modules/'.length);
  const src = u.search(/\/(src|bench|test)\//);
  return src >= 0 ? u.slice(src + 1) : u;
}

export function summarize(file: string, top = 15): string {
  const { totalMs, rows } = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as Profile);
  const lines = [`busy ${(totalMs / 1000).toFixed(2)} s (idle, (program) and the profiler left out); top self time:`];
  for (const r of rows.slice(0, top)) lines.push(`  ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(6)} ms  ${r.fn}  ${r.where}`);
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: cpuprofile.ts FILE.cpuprofile [--top N]\n');
    process.exit(2);
  }
  const i = process.argv.indexOf('--top');
  console.log(summarize(file, i >= 0 ? Number(process.argv[i + 1]) : 15));
}
