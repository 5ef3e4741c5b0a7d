// State on disk: one JSON file, written atomically (temp + rename), debounced to one write per
// ~100 ms, and flushed on stop. The watch history is not persisted (as after etcd compaction).

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectStore } from './store.js';
import type { KubeObject } from './types.js';

interface StateFile {
  version: 1;
  resourceVersion: number;
  objects: { res: string; obj: KubeObject }[];
}

export class Persistence {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(
    private readonly dir: string,
    private readonly store: ObjectStore,
    private readonly debounceMs = 100,
  ) {}

  get file(): string {
    return join(this.dir, 'apiserver-state.json');
  }

  /** Loads the state file if there is one; returns whether it did. */
  async load(): Promise<boolean> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      return false;
    }
    const state = JSON.parse(text) as StateFile;
    this.store.load({ resourceVersion: state.resourceVersion, objects: state.objects });
    return true;
  }

  schedule(): void {
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // A failed background write (the directory removed under us, a full disk) is tried again
      // with the next change; the flush on stop reports its own failure to the caller.
      this.flush().catch(() => {
        this.dirty = true;
      });
    }, this.debounceMs);
  }

  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.writing = this.writing.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      const snap = this.store.snapshot();
      const state: StateFile = { version: 1, resourceVersion: snap.resourceVersion, objects: snap.objects };
      await mkdir(this.dir, { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(state));
      await rename(tmp, this.file);
    });
    await this.writing;
  }

  /** Forces the next flush to write even if nothing changed (initial state). */
  markDirty(): void {
    this.dirty = true;
  }
}
