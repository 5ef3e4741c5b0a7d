// Long-running `kto` child processes (a separate OS process each, as a user runs them).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { CLI, ROOT } from './cli.js';

export interface Child {
  proc: ChildProcessWithoutNullStreams;
  output: () => string;
  /** Resolves with the first stdout/stderr text matching re. */
  waitFor: (re: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
  /** Sends sig and resolves with the exit code and how long the exit took. */
  stop: (sig?: NodeJS.Signals) => Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

export function startKto(args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    output: () => out,
    waitFor(re, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(re);
          if (m) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for ${re} in:\n${out.slice(-2000)}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
    async stop(sig = 'SIGTERM') {
      const t0 = Date.now();
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
      const killer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      const r = await exited;
      clearTimeout(killer);
      return { ...r, ms: Date.now() - t0 };
    },
  };
}
