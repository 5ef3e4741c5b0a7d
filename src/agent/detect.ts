// Finds where this node's kubelet reads its configuration, from the kubelet's own command line
// (the agent runs with hostPID and the host filesystem mounted at hostRoot).
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { errCode } from '../util/errors.js';

export type KubeletLayout =
  | { mode: 'dropin'; configFile: string; dropinDir: string }
  | { mode: 'main'; configFile: string };

export interface DetectOptions {
  /** Where the host's filesystem is mounted in the agent's container ('/' on the host itself). */
  hostRoot: string;
  /** Process table to scan. Default '/proc'; the simulated node passes <root>/proc. */
  procRoot?: string;
  /** Host paths to use when no kubelet process is found (or it names no --config). */
  fallback?: { configFile?: string; configDir?: string };
  /**
   * The kubelet's version (Node status.nodeInfo.kubeletVersion), when known. On 1.28/1.29 the
   * drop-in dir is alpha and honoured only with KUBELET_CONFIG_DROPIN_DIR_ALPHA set; below 1.28
   * there is none.
   */
  kubeletVersion?: string;
}

export interface KubeletProcess {
  pid: number;
  argv: string[];
  /** Undefined when environ could not be read. */
  env: Record<string, string> | undefined;
}

const DEFAULT_CONFIG_FILE = '/var/lib/kubelet/config.yaml';
export const DROPIN_ALPHA_ENV = 'KUBELET_CONFIG_DROPIN_DIR_ALPHA';

function splitNul(buf: Buffer): string[] {
  return buf
    .toString('utf8')
    .split('\0')
    .filter((s) => s !== '');
}

/** Scans procRoot for a process whose argv[0] has basename `kubelet`. The process table is read
 *  with synchronous calls: procfs answers from memory, and a promise per file cost several times
 *  the read (it showed when thousands of agents start in one embedded cluster). */
export async function findKubeletProcess(procRoot: string): Promise<KubeletProcess | undefined> {
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch (e: unknown) {
    if (errCode(e) === 'ENOENT') return undefined;
    throw e;
  }
  const pids = entries.filter((e) => /^\d+$/.test(e)).map(Number).sort((a, b) => a - b);
  for (const pid of pids) {
    let argv: string[];
    try {
      argv = splitNul(readFileSync(join(procRoot, String(pid), 'cmdline')));
    } catch {
      continue; // the process exited, or is not ours to read
    }
    const argv0 = argv[0];
    if (argv0 === undefined || basename(argv0) !== 'kubelet') continue;
    let env: Record<string, string> | undefined;
    try {
      env = {};
      for (const kv of splitNul(readFileSync(join(procRoot, String(pid), 'environ')))) {
        const i = kv.indexOf('=');
        if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
      }
    } catch {
      env = undefined;
    }
    return { pid, argv, env };
  }
  return undefined;
}

/** Value of a Go-style flag: `--name=v`, `-name=v`, `--name v`, `-name v`. The last one wins. */
export function flagValue(argv: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--') break;
    for (const prefix of [`--${name}`, `-${name}`]) {
      if (a === prefix) {
        const next = argv[i + 1];
        if (next !== undefined) value = next;
        i++;
      } else if (a.startsWith(`${prefix}=`)) {
        value = a.slice(prefix.length + 1);
      }
    }
  }
  return value;
}

function minorOf(version: string): number | undefined {
  const m = /^v?1\.(\d+)/.exec(version.trim());
  return m ? Number(m[1]) : undefined;
}

/** A host path, as the kubelet sees it (relative to its cwd '/'), mapped under hostRoot. */
function underHost(hostRoot: string, p: string): string {
  return join(hostRoot, posix.resolve('/', p));
}

export async function detectKubeletLayout(opts: DetectOptions): Promise<KubeletLayout> {
  const proc = await findKubeletProcess(opts.procRoot ?? '/proc');
  const minor = opts.kubeletVersion !== undefined ? minorOf(opts.kubeletVersion) : undefined;
  let configFile: string | undefined;
  let configDir: string | undefined;
  if (proc) {
    configFile = flagValue(proc.argv, 'config');
    configDir = flagValue(proc.argv, 'config-dir');
    if (configDir === '') configDir = undefined;
    if (configDir !== undefined && !dropinHonoured(minor, proc.env)) configDir = undefined;
  }
  configFile ??= opts.fallback?.configFile;
  if (!proc) configDir ??= opts.fallback?.configDir;
  if (configDir !== undefined) {
    return {
      mode: 'dropin',
      configFile: underHost(opts.hostRoot, configFile ?? DEFAULT_CONFIG_FILE),
      dropinDir: underHost(opts.hostRoot, configDir),
    };
  }
  if (configFile !== undefined) return { mode: 'main', configFile: underHost(opts.hostRoot, configFile) };
  throw new Error(
    proc
      ? `kubelet (pid ${proc.pid}) runs without --config or --config-dir, and no fallback config file was given: nothing to manage`
      : `no kubelet process found under ${opts.procRoot ?? '/proc'} and no fallback config file or dir was given (is hostPID set?)`,
  );
}

/**
 * Whether a running kubelet reads its --config-dir. Below 1.28 there is no such flag; on 1.28 and
 * 1.29 the kubelet needs the alpha env var. With the version unknown we trust the flag: a running
 * kubelet that was given --config-dir either is 1.30+ or has the env (1.28/1.29 refuse to start
 * with the flag but without the env).
 */
function dropinHonoured(minor: number | undefined, env: Record<string, string> | undefined): boolean {
  const hasEnv = env !== undefined && DROPIN_ALPHA_ENV in env;
  if (minor === undefined) return true;
  if (minor < 28) return false;
  if (minor < 30) return hasEnv;
  return true;
}
