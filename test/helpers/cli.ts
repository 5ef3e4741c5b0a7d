import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `kto ARGS` from the sources, as a separate process, the way a user runs the binary. */
export function runKto(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return run(process.execPath, ['--import', 'tsx', CLI, ...args], opts);
}

export interface RunOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** Called with the count of complete stdout lines as each arrives (e.g. `kubectl get -w`). */
  onLine?: (n: number) => void;
  /** Ends the process (SIGTERM) once this many stdout lines arrived. */
  untilLines?: number;
}

/** Runs a command asynchronously (the embedded API server may live in this very process: a
 *  blocking spawnSync would starve it). Killed after timeoutMs (default 30 s). */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let lines = 0;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const n = stdout.split('\n').length - 1;
      while (lines < n) {
        lines++; // apart: an optional call `onLine?.(++lines)` would skip evaluating its argument
        opts.onLine?.(lines);
      }
      if (opts.untilLines !== undefined && lines >= opts.untilLines) child.kill('SIGTERM');
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A command that exits without reading its input (most do) must not fail the test with the
    // EPIPE of this write: its exit code and output are what the caller looks at.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
