import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type FileHandleOps, type FsOps, isTempFor, realFsOps, syncFsOps, writeFileAtomic } from '../../src/agent/atomic.js';
import { prng as mulberry32 } from '../helpers/prng.js';

const roots: string[] = [];
after(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});


class Killed extends Error {}

/**
 * Real fs, but the process "dies" at step `killAt`: that call (and every later one) throws, as
 * if the writer were SIGKILLed there. A write that dies leaves a partial temp file behind.
 */
function dyingFs(killAt: number): { ops: FsOps; steps: () => number } {
  let step = 0;
  let dead = false;
  const tick = (): boolean => {
    if (dead) throw new Killed('dead');
    if (step++ === killAt) {
      dead = true;
      return true;
    }
    return false;
  };
  const ops: FsOps = {
    async open(path, flags, mode) {
      if (tick()) throw new Killed('open');
      const h = await realFsOps.open(path, flags, mode);
      const wrapped: FileHandleOps = {
        async write(data) {
          if (tick()) {
            await h.write(data.subarray(0, Math.floor(data.length / 2)));
            throw new Killed('write');
          }
          await h.write(data);
        },
        async sync() {
          if (tick()) throw new Killed('sync');
          await h.sync();
        },
        async close() {
          // A killed process's descriptors are closed by the kernel: close the real one either way
          // (otherwise Node closes it on GC and warns, DEP0137).
          let dies: boolean;
          try {
            dies = tick();
          } catch (e) {
            await h.close();
            throw e;
          }
          await h.close();
          if (dies) throw new Killed('close');
        },
      };
      return wrapped;
    },
    async rename(from, to) {
      if (tick()) throw new Killed('rename');
      await realFsOps.rename(from, to);
    },
    async unlink(path) {
      if (tick()) throw new Killed('unlink');
      await realFsOps.unlink(path);
    },
    async readdir(dir) {
      if (tick()) throw new Killed('readdir');
      return realFsOps.readdir(dir);
    },
    async mode(path) {
      if (tick()) throw new Killed('mode');
      return realFsOps.mode(path);
    },
  };
  return { ops, steps: () => step };
}

describe('writeFileAtomic', () => {
  test('writes, replaces, keeps the mode, and leaves no temp file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'atomic-'));
    roots.push(dir);
    const target = join(dir, '90-nodetracing.conf');
    await writeFileAtomic(target, 'one\n', realFsOps, { mode: 0o600 });
    assert.equal(await readFile(target, 'utf8'), 'one\n');
    assert.equal((await stat(target)).mode & 0o777, 0o600);
    await writeFileAtomic(target, 'two\n');
    assert.equal(await readFile(target, 'utf8'), 'two\n');
    assert.equal((await stat(target)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['90-nodetracing.conf']);
  });

  test('1,000 seeded interruptions: always old or new, stale temps cleaned by the next write', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'atomic-kill-'));
    roots.push(dir);
    const target = join(dir, '90-nodetracing.conf');
    await writeFile(join(dir, '10-user.conf'), 'user\n');
    const seed = 0xc0ffee;
    const rand = mulberry32(seed);
    // Count the steps of an uninterrupted write (with one stale temp to clean).
    await writeFileAtomic(target, 'v0\n');
    const probe = dyingFs(Number.POSITIVE_INFINITY);
    await writeFileAtomic(target, 'v0\n', probe.ops);
    const total = probe.steps();
    assert.ok(total >= 6, `a write takes ${total} steps`);

    let old = 'v0\n';
    let killedCount = 0;
    for (let i = 1; i <= 1000; i++) {
      const killAt = Math.floor(rand() * (total + 1)); // total = not killed at all
      const next = `version ${i} ${'x'.repeat(Math.floor(rand() * 4096))}\n`;
      const { ops } = dyingFs(killAt);
      let died = false;
      try {
        await writeFileAtomic(target, next, ops);
      } catch (e: unknown) {
        assert.ok(e instanceof Killed, `iteration ${i} (seed ${seed}, kill at ${killAt}): ${String(e)}`);
        died = true;
        killedCount++;
      }
      const now = await readFile(target, 'utf8');
      assert.ok(now === old || now === next, `iteration ${i} (seed ${seed}, kill at ${killAt}): torn file`);
      if (!died) assert.equal(now, next, `iteration ${i}: completed write not visible`);
      // Whatever was left behind, the kubelet ignores it: it reads only *.conf.
      const confs = (await readdir(dir)).filter((n) => n.endsWith('.conf')).sort();
      assert.deepEqual(confs, ['10-user.conf', '90-nodetracing.conf'], `iteration ${i}: stray .conf`);
      old = now;
    }
    assert.ok(killedCount > 800, `most iterations were interrupted (${killedCount})`);
    // The next good write removes every stale temp.
    await writeFileAtomic(target, 'final\n');
    assert.equal(await readFile(target, 'utf8'), 'final\n');
    assert.deepEqual((await readdir(dir)).sort(), ['10-user.conf', '90-nodetracing.conf']);
  });

  test('stale temps from a dead writer are recognised and removed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'atomic-stale-'));
    roots.push(dir);
    const target = join(dir, 'config.yaml');
    const stale = '.config.yaml.12345.deadbeef.tmp';
    await writeFile(join(dir, stale), 'half');
    await writeFile(join(dir, '.other.yaml.1.ab.tmp'), 'not ours');
    assert.ok(isTempFor(target, stale));
    await writeFileAtomic(target, 'new');
    assert.deepEqual((await readdir(dir)).sort(), ['.other.yaml.1.ab.tmp', 'config.yaml']);
  });
});

describe('syncFsOps.readText', () => {
  test('a missing file reads as null, a file as its text; a path through a file or a directory is an error, not "missing"', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'atomic-read-'));
    roots.push(dir);
    const read = (path: string): Promise<string | null> => {
      if (syncFsOps.readText === undefined) throw new Error('syncFsOps reads text itself');
      return syncFsOps.readText(path);
    };
    assert.equal(await read(join(dir, 'journal.json')), null);
    await writeFile(join(dir, 'journal.json'), '{"hash":"h"}');
    assert.equal(await read(join(dir, 'journal.json')), '{"hash":"h"}');
    await assert.rejects(read(join(dir, 'journal.json', 'x')), { code: 'ENOTDIR' });
    await assert.rejects(read(dir), { code: 'EISDIR' });
  });
});
