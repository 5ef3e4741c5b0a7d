// `kto sim` at scale runs its cluster in a worker thread, so that the cluster's heaps run
// without V8's memory reducer. Once allocation slows down after the start, the reducer runs up
// to three extra full collections of a heap to give memory back. At 5,000 nodes, without it the
// cluster idles at 1.9-2.7% of a core in the 30 s after its agents watch instead of 4.2-4.3%, and
// keeps 444-481 MB of RSS instead of 376-425. The flag, set at run time, holds only for the heaps
// made after it: this thread's was made before, so the cluster runs in a thread of its own (its
// agents' thread inside it), and this one keeps only the command line and the signals. This
// module is the light part: the cluster's code is loaded in the thread, or, for a small cluster,
// in this thread (there a thread's start would cost more than the reducer).
import { setFlagsFromString } from 'node:v8';
import { moduleWorker } from '../util/worker.js';
import type { SimFlags } from './processes.js';

/** From this many nodes `kto sim` runs its cluster in a worker thread (and its agents in another). */
export const SIM_THREAD_FROM_NODES = 1000;

/** What the cluster's thread posts once it has stopped. */
export interface SimThreadDone {
  code: number;
}

/** `kto sim`: the embedded cluster until SIGINT or SIGTERM; the exit code. */
export async function runSim(f: SimFlags): Promise<number> {
  if (f.nodes < SIM_THREAD_FROM_NODES) return (await import('./processes.js')).simCommand(f);
  setFlagsFromString('--no-memory-reducer');
  const worker = moduleWorker(import.meta.url, 'sim-worker', f);
  let done: SimThreadDone | undefined;
  let failure: Error | undefined;
  worker.on('message', (m: SimThreadDone) => (done = m));
  worker.on('error', (err) => (failure = err));
  // The first signal stops the cluster, as in process; a second one, the handlers gone, ends
  // the process at once.
  const onSignal = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    worker.postMessage('stop');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const exitCode = await new Promise<number>((resolve) => worker.once('exit', resolve));
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (failure) {
    process.stderr.write(`kto: ${failure.message}\n`);
    return 1;
  }
  return done?.code ?? (exitCode || 1);
}
