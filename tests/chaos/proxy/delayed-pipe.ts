/**
 * Forwards one direction of a TCP connection with every chunk held back by the current delay. Chunks
 * leave in the order they came: when the delay shrinks, a chunk waits for the one before it rather than
 * overtaking it, so the byte stream (an HTTP/2 connection, here) stays intact. Without a delay, chunks
 * pass straight through.
 */
import type { Duplex } from "node:stream";

interface HeldChunk {
  readonly chunk: Buffer;
  readonly dueMs: number;
}

export class DelayedPipe {
  private readonly held: HeldChunk[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastDueMs = 0;
  private sourceEnded = false;

  constructor(
    from: Duplex,
    private readonly to: Duplex,
    private readonly delayMs: () => number,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    from.on("data", (chunk: Buffer) => this.accept(chunk));
    from.on("end", () => {
      this.sourceEnded = true;
      this.drain();
    });
  }

  /** Drops what is held (the connection is going away). */
  discard(): void {
    this.held.length = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private accept(chunk: Buffer): void {
    const delay = this.delayMs();
    if (delay <= 0 && this.held.length === 0) {
      this.to.write(chunk);
      return;
    }
    const dueMs = Math.max(this.nowMs() + delay, this.lastDueMs);
    this.lastDueMs = dueMs;
    this.held.push({ chunk, dueMs });
    this.drain();
  }

  private drain(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const now = this.nowMs();
    while (this.held.length > 0 && this.held[0]!.dueMs <= now) this.to.write(this.held.shift()!.chunk);
    const next = this.held[0];
    if (next !== undefined) {
      this.timer = setTimeout(() => this.drain(), Math.max(1, Math.ceil(next.dueMs - now)));
    } else if (this.sourceEnded) {
      this.to.end();
    }
  }
}
