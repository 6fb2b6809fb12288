/**
 * Latches serialize transactional commands that touch the same keys on this store, from the read of
 * their snapshot until their writes applied, so no command computes from state another one is about to
 * change. Keys hash into a fixed number of slots; a command queues on every slot of its keys at once
 * (in one synchronous step), and runs when it is first in all of them. Queuing everywhere at once gives
 * every slot the same arrival order, so two commands never wait for each other in a cycle.
 *
 * The number of waiting commands is bounded: beyond it acquisition fails and the client backs off
 * (ServerIsBusy) instead of the store queueing without limit.
 */
import { InvariantError } from "#runtime";

export interface LatchGuard {
  /** Lets the next command of each slot run. Idempotent. */
  release(): void;
}

export class LatchesFullError extends Error {
  override readonly name = "LatchesFullError";
  constructor(readonly waiting: number) {
    super(`${waiting} commands are waiting for latches`);
  }
}

interface Waiter {
  readonly slots: readonly number[];
  readonly ready: () => void;
  granted: boolean;
}

export class Latches {
  private readonly queues: Waiter[][];
  private waiting = 0;

  constructor(
    private readonly slotCount: number,
    private readonly maxWaiting: number,
  ) {
    if (!Number.isInteger(slotCount) || slotCount <= 0)
      throw new RangeError(`latch slots must be positive, got ${slotCount}`);
    this.queues = Array.from({ length: slotCount }, () => []);
  }

  /** Commands queued behind others right now (for metrics). */
  get waitingCommands(): number {
    return this.waiting;
  }

  /** Resolves when the command holds every slot of `keys`; rejects with LatchesFullError at the bound. */
  acquire(keys: readonly Uint8Array[]): Promise<LatchGuard> {
    const slots = [...new Set(keys.map((key) => this.slotOf(key)))].sort((left, right) => left - right);
    let resolveReady!: () => void;
    const ready = new Promise<void>((resolve) => {
      resolveReady = resolve;
    });
    const waiter: Waiter = { slots, ready: resolveReady, granted: false };
    for (const slot of slots) this.queues[slot]!.push(waiter);
    if (this.isFirstEverywhere(waiter)) {
      waiter.granted = true;
      return Promise.resolve(this.guard(waiter));
    }
    if (this.waiting >= this.maxWaiting) {
      this.dequeue(waiter);
      return Promise.reject(new LatchesFullError(this.waiting));
    }
    this.waiting++;
    return ready.then(() => this.guard(waiter));
  }

  private guard(waiter: Waiter): LatchGuard {
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.dequeue(waiter);
        for (const slot of waiter.slots) {
          const next = this.queues[slot]![0];
          if (next !== undefined && !next.granted && this.isFirstEverywhere(next)) {
            next.granted = true;
            this.waiting--;
            next.ready();
          }
        }
      },
    };
  }

  private dequeue(waiter: Waiter): void {
    for (const slot of waiter.slots) {
      const queue = this.queues[slot]!;
      const index = queue.indexOf(waiter);
      if (index < 0) throw new InvariantError(`latch waiter missing from slot ${slot}`);
      queue.splice(index, 1);
    }
  }

  private isFirstEverywhere(waiter: Waiter): boolean {
    return waiter.slots.every((slot) => this.queues[slot]![0] === waiter);
  }

  private slotOf(key: Uint8Array): number {
    // FNV-1a: cheap and spreads adjacent keys (table rows differ in their last bytes) across slots.
    let hash = 0x811c9dc5;
    for (const byte of key) hash = Math.imul(hash ^ byte, 0x01000193);
    return (hash >>> 0) % this.slotCount;
  }
}
