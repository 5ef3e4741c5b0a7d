// A process's CPU time and RSS, from /proc (Linux), for the benches that watch `kto sim` idle.
import { readFile } from 'node:fs/promises';

/** utime + stime of a process, in ms (from /proc; clock ticks are 100 Hz here). */
export async function cpuMs(pid: number): Promise<{ user: number; sys: number }> {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return { user: Number(f[11]) * 10, sys: Number(f[12]) * 10 };
}

export async function rssMb(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}
