// `kto sim` at scale runs its cluster in a worker thread (src/cli/sim-thread.ts) and its agents
// in another inside it: as a user runs it, it serves every node, every agent watches its node,
// a signal to the process stops the cluster and cleans up, and a cluster that cannot start
// fails the command as it does in process.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SIM_THREAD_FROM_NODES } from '../../src/cli/sim-thread.js';
import { run } from '../helpers/cli.js';
import { startKto, type Child } from '../helpers/proc.js';

let dir = '';
const children: Child[] = [];
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kto-sim-thread-'));
});
after(async () => {
  for (const c of children) await c.stop('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

const nodes = String(SIM_THREAD_FROM_NODES);

test(`kto sim --nodes ${nodes}: the cluster's thread serves every node, its agents watch, SIGINT stops it`, async () => {
  const kc = join(dir, 'kubeconfig');
  const sim = startKto(['sim', '--nodes', nodes, '--versions', 'v1.30.10', '--kubeconfig', kc]);
  children.push(sim);
  await sim.waitFor(/Ctrl-C stops the cluster/, 60_000);
  await sim.waitFor(new RegExp(`${nodes} node agents watching their node`), 60_000);
  const listed = await run('kubectl', ['--kubeconfig', kc, 'get', 'nodes', '-o', 'name'], { timeoutMs: 30_000 });
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(listed.stdout.trim().split('\n').length, SIM_THREAD_FROM_NODES);
  const stopped = await sim.stop('SIGINT');
  assert.deepEqual([stopped.code, stopped.signal], [0, null], sim.output());
  assert.equal(existsSync(kc), false, 'the kubeconfig is removed on exit');
  assert.doesNotMatch(sim.output(), /failed|Error/);
});

test(`kto sim --nodes ${nodes} on a busy port: exit 1 with the reason, nothing served`, async () => {
  const busy: Server = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as { port: number }).port;
  try {
    const kc = join(dir, 'busy-kubeconfig');
    const sim = startKto(['sim', '--nodes', nodes, '--port', String(port), '--no-agents', '--kubeconfig', kc]);
    children.push(sim);
    const code = await new Promise<number | null>((resolve) => sim.proc.once('exit', resolve));
    assert.equal(code, 1, sim.output());
    assert.match(sim.output(), new RegExp(`^kto: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${port}\\n$`));
    assert.equal(existsSync(kc), false);
  } finally {
    busy.close();
  }
});
