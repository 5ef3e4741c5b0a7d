// A process's (or one of its threads') CPU time and RSS, from /proc (Linux), for the benches that
// watch `kto sim` idle and the rollout bench's harness.
import { readFile } from 'node:fs/promises';

/** utime + stime of a process, in ms (from /proc; clock ticks are 100 Hz here). */
export async function cpuMs(pid: number): Promise<{ user: number; sys: number }> {
  return statCpu(`/proc/${pid}/stat`);
}

/** The same for one thread of a process (`tid`: the kernel's id of the thread; the main
 *  thread's is the pid); undefined where there is no /proc to read it from. */
export async function threadCpuMs(pid: number, tid: number): Promise<number | undefined> {
  try {
    const c = await statCpu(`/proc/${pid}/task/${tid}/stat`);
    return c.user + c.sys;
  } catch {
    return undefined;
  }
}

async function statCpu(path: string): Promise<{ user: number; sys: number }> {
  // The fields after the command, which is in parentheses and may hold spaces.
  const f = (await readFile(path, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return { user: Number(f[11]) * 10, sys: Number(f[12]) * 10 };
}

export async function rssMb(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}
