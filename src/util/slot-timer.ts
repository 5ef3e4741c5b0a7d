// Callbacks due at a time, run from one interval timer in slots: thousands of timers of the same
// kind (the embedded API server's watch deadlines and bookmarks, the embedded cluster's agents'
// drift re-checks) wake their thread once per slot, not once each, and a tick looks only at the
// slots that are due, not at every timer.

/** Callbacks due at a time, run from one interval timer in slots of `slotMs`: those due in the
 *  same slot run in one turn of the event loop, and a tick looks only at the slots that are due. A
 *  callback runs in the first tick at or after its time, never before, and less than two slots
 *  after it. One per slot length and thread (slotTimer). */
export class SlotTimer {
  private readonly slots = new Map<number, Set<Slotted>>();
  private size = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly slotMs: number) {}

  /** Runs `fn` (with the tick's time) at or after `ms`; returns its cancel, a no-op once it ran. */
  at(ms: number, fn: (now: number) => void): () => void {
    const e: Slotted = { fn, slot: Math.ceil(ms / this.slotMs), live: true };
    let s = this.slots.get(e.slot);
    if (!s) this.slots.set(e.slot, (s = new Set()));
    s.add(e);
    this.size++;
    this.timer ??= setInterval(() => this.tick(), this.slotMs).unref();
    return () => {
      if (!e.live) return;
      e.live = false;
      this.slots.get(e.slot)?.delete(e);
      this.size--;
      this.stopIfIdle();
    };
  }

  private tick(): void {
    const now = Date.now();
    const due = Math.floor(now / this.slotMs);
    for (const [slot, entries] of this.slots) {
      if (slot > due) continue;
      this.slots.delete(slot);
      for (const e of entries) {
        // Cancelled by a callback before it in this tick (a watch's end cancels its bookmark):
        // its slot was already taken off the map, so the cancel could not remove it from here.
        if (!e.live) continue;
        e.live = false;
        this.size--;
        e.fn(now);
      }
    }
    this.stopIfIdle();
  }

  private stopIfIdle(): void {
    if (this.size > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

interface Slotted {
  fn: (now: number) => void;
  /** The time slot it waits in. */
  slot: number;
  live: boolean;
}

const slotTimers = new Map<number, SlotTimer>();

/** The process's (thread's) SlotTimer for `slotMs`. */
export function slotTimer(slotMs: number): SlotTimer {
  let t = slotTimers.get(slotMs);
  if (!t) slotTimers.set(slotMs, (t = new SlotTimer(slotMs)));
  return t;
}
