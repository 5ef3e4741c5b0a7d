// Crash-safe file replacement: temp file in the same dir, write, fsync, rename, fsync dir. A
// reader (the kubelet) sees the old bytes or the new bytes, never a torn file. Temp names start
// with '.' and end in '.tmp', so the kubelet (which reads only *.conf) never picks one up, and
// the next write to the same target removes any left by a writer that died.
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errCode } from '../util/errno.js';

export interface FileHandleOps {
  write(data: Uint8Array): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** The fs operations a write goes through; a test injects one that "dies" at any step. */
export interface FsOps {
  open(path: string, flags: 'wx' | 'r', mode?: number): Promise<FileHandleOps>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readdir(dir: string): Promise<string[]>;
  /** File mode bits, or undefined if the file does not exist. */
  mode(path: string): Promise<number | undefined>;
  /** A file's text, or null if it does not exist. Default: fs/promises readFile. */
  readText?(path: string): Promise<string | null>;
  /** stat with bigint times and inode, or undefined if the path does not exist (the drift
   *  watch's look at its file). Default: fs/promises stat. */
  statBig?(path: string): Promise<fs.BigIntStats | undefined>;
  /** mkdir -p. Default: fs/promises mkdir with `recursive`. */
  mkdirp?(dir: string): Promise<void>;
}

export const realFsOps: FsOps = {
  async open(path, flags, mode) {
    const h = await fsp.open(path, flags, mode);
    return {
      async write(data) {
        let off = 0;
        while (off < data.length) {
          const { bytesWritten } = await h.write(data, off, data.length - off);
          off += bytesWritten;
        }
      },
      sync: () => h.sync(),
      close: () => h.close(),
    };
  },
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  readdir: (dir) => fsp.readdir(dir),
  async mode(path) {
    try {
      return (await fsp.stat(path)).mode & 0o7777;
    } catch (e: unknown) {
      if (errCode(e) === 'ENOENT') return undefined;
      throw e;
    }
  },
};

/** The same steps with synchronous calls, for a filesystem that answers from memory (tmpfs):
 *  there a thread-pool round trip and a promise per step cost several times the step itself.
 *  The embedded cluster's agents use it; a node's real disk keeps realFsOps, since a synchronous
 *  fsync there would stall the agent's event loop. */
export const syncFsOps: FsOps = {
  async open(path, flags, mode) {
    const fd = fs.openSync(path, flags, mode);
    return {
      async write(data) {
        let off = 0;
        while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
      },
      sync: async () => fs.fsyncSync(fd),
      close: async () => fs.closeSync(fd),
    };
  },
  rename: async (from, to) => fs.renameSync(from, to),
  unlink: async (path) => fs.unlinkSync(path),
  readdir: async (dir) => fs.readdirSync(dir),
  async mode(path) {
    const st = fs.statSync(path, { throwIfNoEntry: false });
    return st === undefined ? undefined : st.mode & 0o7777;
  },
  async readText(path) {
    // A file that is not there is the common case for some (the journal between applies, a first
    // drop-in): asked first, without the exception readFileSync throws for it, which costs ten
    // times the stat (10 µs against 0.5-1 µs here). Missing means missing from a directory that
    // is there: Node 24 also answers "no entry" for a path through a file (ENOTDIR), which the
    // read below reports as the error it is. A race with a delete still ends below.
    if (fs.statSync(path, { throwIfNoEntry: false }) === undefined && fs.statSync(dirname(path), { throwIfNoEntry: false })?.isDirectory()) return null;
    try {
      return fs.readFileSync(path, 'utf8');
    } catch (e: unknown) {
      if (errCode(e) === 'ENOENT') return null;
      throw e;
    }
  },
  statBig: async (path) => fs.statSync(path, { bigint: true, throwIfNoEntry: false }),
  mkdirp: async (dir) => void fs.mkdirSync(dir, { recursive: true }),
};

const TMP_SUFFIX = '.tmp';
function tmpPrefix(target: string): string {
  return `.${basename(target)}.`;
}

/** True for temp files that a write to `target` creates. */
export function isTempFor(target: string, name: string): boolean {
  return name.startsWith(tmpPrefix(target)) && name.endsWith(TMP_SUFFIX);
}

async function syncDir(dir: string, ops: FsOps): Promise<void> {
  const h = await ops.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Removes temp files left behind by an earlier write to `target` that was interrupted. */
export async function cleanStaleTemps(target: string, ops: FsOps = realFsOps): Promise<string[]> {
  const dir = dirname(target);
  const removed: string[] = [];
  for (const name of await ops.readdir(dir)) {
    if (!isTempFor(target, name)) continue;
    try {
      await ops.unlink(join(dir, name));
      removed.push(name);
    } catch (e: unknown) {
      if (errCode(e) !== 'ENOENT') throw e;
    }
  }
  return removed;
}

export interface WriteOptions {
  /** Mode for a new file; an existing target keeps its own mode. Default 0o644. */
  mode?: number;
}

export async function writeFileAtomic(
  target: string,
  content: string | Uint8Array,
  ops: FsOps = realFsOps,
  opts: WriteOptions = {},
): Promise<void> {
  const dir = dirname(target);
  await cleanStaleTemps(target, ops);
  const mode = (await ops.mode(target)) ?? opts.mode ?? 0o644;
  // 32 random bits, as 8 hex digits: randomUUID draws from a batch of entropy it keeps, where
  // randomBytes(4) asks for more each call (0.5-1 µs against 4 µs, alone in a loop here).
  const tmp = join(dir, `${tmpPrefix(target)}${process.pid}.${randomUUID().slice(0, 8)}${TMP_SUFFIX}`);
  const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  const h = await ops.open(tmp, 'wx', mode);
  try {
    await h.write(data);
    await h.sync();
  } catch (e: unknown) {
    await h.close().catch(() => undefined);
    await ops.unlink(tmp).catch(() => undefined);
    throw e;
  }
  await h.close();
  try {
    await ops.rename(tmp, target);
  } catch (e: unknown) {
    await ops.unlink(tmp).catch(() => undefined);
    throw e;
  }
  // Make the rename itself durable, so a power cut cannot bring the old file back after we
  // restarted the kubelet on the new one.
  await syncDir(dir, ops);
}

/** Deletes `path` (if present) durably. Returns whether it existed. */
export async function removeFileDurable(path: string, ops: FsOps = realFsOps): Promise<boolean> {
  try {
    await ops.unlink(path);
  } catch (e: unknown) {
    if (errCode(e) === 'ENOENT') return false;
    throw e;
  }
  await syncDir(dirname(path), ops);
  return true;
}
