/**
 * The capability to change region state. The store loop makes one for each turn and closes it when the
 * turn ends; every method that changes a peer or the store's region bookkeeping takes it. Code outside a
 * turn (gRPC handlers, background tasks) holds none, so it can only queue work for the loop: the type
 * system keeps it from changing state, and a capability kept past its turn fails its check.
 */

export class TurnInvariantError extends Error {
  override readonly name = "TurnInvariantError";
}

export class Turn {
  private open = true;

  constructor(
    /** Counts the loop's turns; leases and caches key on it. */
    readonly number: number,
    /** When the turn started (monotonic ms). */
    readonly nowMs: number,
  ) {}

  get isOpen(): boolean {
    return this.open;
  }

  /** Throws unless the turn is still running: a change through a stale capability is a bug. */
  check(what: string): void {
    if (!this.open)
      throw new TurnInvariantError(`${what} outside a store loop turn (turn ${this.number} ended)`);
  }

  close(): void {
    this.open = false;
  }
}
