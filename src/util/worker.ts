// Worker threads that run one of this package's modules, compiled or from the sources.
import { Worker } from 'node:worker_threads';

/**
 * A worker thread running the module `name` in the directory of `base` (the caller's
 * import.meta.url): the compiled .js next to it, or, run from the .ts sources under tsx, the
 * .ts module behind tsx's loader registered in the thread (on Node 20 a worker does not inherit
 * the parent's `--import tsx`).
 */
export function moduleWorker(base: string, name: string, workerData: unknown): Worker {
  if (!base.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, base), { workerData });
  const entry = JSON.stringify(new URL(`./${name}.ts`, base).href);
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${entry}); });`, { eval: true, workerData });
}
