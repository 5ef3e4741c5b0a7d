// Production edges of the node agent: restart the host's kubelet and probe its /healthz. The
// agent pod runs privileged with hostPID, so PID 1 is the host's init and nsenter reaches its
// mount namespace (where systemctl talks to the host's systemd).
import { execFile } from 'node:child_process';
import type { KubeletHealthProbe, KubeletRestarter } from './interfaces.js';

export const DEFAULT_RESTART_COMMAND: readonly string[] = ['nsenter', '-t', '1', '-m', '--', 'systemctl', 'restart', 'kubelet'];

export class SystemctlRestarter implements KubeletRestarter {
  constructor(private readonly opts: { command?: readonly string[]; timeoutMs?: number } = {}) {}

  /** Resolves when systemctl returns, i.e. the restart has been initiated. */
  restart(): Promise<void> {
    const [file, ...args] = this.opts.command ?? DEFAULT_RESTART_COMMAND;
    if (file === undefined) return Promise.reject(new Error('empty kubelet restart command'));
    return new Promise((resolve, reject) => {
      execFile(file, args, { timeout: this.opts.timeoutMs ?? 60_000 }, (err, _stdout, stderr) => {
        if (err) reject(new Error(`${[file, ...args].join(' ')} failed: ${err.message}${stderr ? `: ${stderr.trim()}` : ''}`));
        else resolve();
      });
    });
  }
}

export class HttpHealthProbe implements KubeletHealthProbe {
  constructor(private readonly opts: { url?: string; timeoutMs?: number } = {}) {}

  /** The kubelet's healthz answers 200 "ok"; anything else, or no answer, is unhealthy. */
  async healthy(): Promise<boolean> {
    try {
      const res = await fetch(this.opts.url ?? 'http://127.0.0.1:10248/healthz', {
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 2_000),
      });
      return res.status === 200 && (await res.text()).trim() === 'ok';
    } catch {
      return false;
    }
  }
}
