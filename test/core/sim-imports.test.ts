// `kto sim`'s own thread (the API server, kubelets, heartbeats) does not load client-node: with
// its agents in a worker thread it has no use for it, and client-node is 26 MB of a thread's
// heap and half a second of its start. A static import added on that path would bring it back
// without a test failing anywhere else. Seen as Node sees it: a module hook records every module
// a fresh process loads for an import of the command's module.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ROOT, run } from '../helpers/cli.js';

const CLIENT_NODE = '/node_modules/@kubernetes/client-node/';

describe("the modules kto sim's own thread loads", () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kto-sim-imports-'));
    // The hooks run in a thread of their own: they append each module's URL to a file.
    await writeFile(
      join(dir, 'hooks.mjs'),
      `import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function load(url, context, next) { appendFileSync(log, url + '\\n'); return next(url, context); }
`,
    );
    await writeFile(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)}, { data: { log: process.env.KTO_LOAD_LOG } });\n`);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** The URLs of the modules loaded by importing `module` (a path under the repository). */
  async function loaded(module: string): Promise<string[]> {
    const log = join(dir, `${module.replace(/\W/g, '_')}.log`);
    await writeFile(log, '');
    const url = pathToFileURL(join(ROOT, module)).href;
    const r = await run(process.execPath, ['--import', 'tsx', '--import', join(dir, 'register.mjs'), '--input-type=module', '-e', `await import(${JSON.stringify(url)});`], {
      env: { KTO_LOAD_LOG: log },
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr);
    return (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  }

  test('kto sim (src/cli/sim.ts) loads the cluster, and not client-node', async () => {
    const urls = await loaded('src/cli/sim.ts');
    assert.ok(urls.some((u) => u.endsWith('/src/sim/cluster.ts')), 'the embedded cluster is loaded');
    assert.ok(urls.some((u) => u.endsWith('/src/sim/apiserver/index.ts')));
    assert.deepEqual(urls.filter((u) => u.includes(CLIENT_NODE)), []);
  });

  test('kto controller and kto agent (src/cli/processes.ts) do load client-node: the hook sees it', async () => {
    const urls = await loaded('src/cli/processes.ts');
    assert.ok(urls.some((u) => u.includes(CLIENT_NODE)));
  });
});
