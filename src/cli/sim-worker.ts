// The thread `kto sim` runs its cluster in at scale (see sim-thread.ts): the command itself,
// stopped when the main thread passes on a signal.
import { parentPort, workerData } from 'node:worker_threads';
import { simCommand, type SimFlags } from './processes.js';
import type { SimThreadDone } from './sim-thread.js';

const port = parentPort;
if (!port) throw new Error('sim-worker.ts runs as a worker thread (src/cli/sim-thread.ts starts it)');
const stop = new Promise<void>((resolve) => port.once('message', () => resolve()));
const done: SimThreadDone = { code: await simCommand(workerData as SimFlags, stop) };
port.postMessage(done);
