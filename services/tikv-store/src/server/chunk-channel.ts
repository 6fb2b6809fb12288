/**
 * Hands a received snapshot's chunks to a consumer that wants an `AsyncIterable` (the raftstore stages a
 * snapshot by iterating its chunks). The producer side (the gRPC stream) pushes chunks and waits until
 * each is taken, so at most one chunk sits between network and disk; `fail` makes the consumer's loop
 * throw, which is how a stream cut halfway reaches the stager and leaves nothing staged.
 */

import { InvariantError } from "#runtime";

/** A push the channel can no longer take: it ended, or its consumer stopped reading. */
export class ChunkChannelClosedError extends Error {
  override readonly name = "ChunkChannelClosedError";

  constructor(readonly reason: string) {
    super(`the chunk channel is closed: ${reason}`);
  }
}

type Waiter = { resolve: (result: IteratorResult<Uint8Array>) => void; reject: (error: unknown) => void };

export class ChunkChannel implements AsyncIterable<Uint8Array> {
  private offered: { chunk: Uint8Array; taken: () => void; refused: (error: unknown) => void } | undefined;
  private waiter: Waiter | undefined;
  private ended = false;
  private failure: { error: unknown } | undefined;
  private iterated = false;

  /**
   * Resolves once the consumer took the chunk; rejects if the channel ended, or with the channel's
   * failure (a refusal the producer should pass on) if it failed before or meanwhile.
   */
  push(chunk: Uint8Array): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure.error);
    if (this.ended) return Promise.reject(new ChunkChannelClosedError("it ended"));
    if (this.offered !== undefined)
      return Promise.reject(new InvariantError("chunk pushed before the previous one was taken"));
    return new Promise<void>((taken, refused) => {
      this.offered = { chunk, taken, refused };
      this.deliver();
    });
  }

  /** No more chunks: the consumer's loop finishes normally. */
  end(): void {
    this.ended = true;
    this.deliver();
  }

  /** The consumer's loop throws `error`; a push still waiting is refused with it. */
  fail(error: unknown): void {
    if (this.ended || this.failure !== undefined) return;
    this.failure = { error };
    this.offered?.refused(error);
    this.offered = undefined;
    this.deliver();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.iterated) throw new InvariantError("a chunk channel can be iterated only once");
    this.iterated = true;
    return {
      next: () =>
        new Promise<IteratorResult<Uint8Array>>((resolve, reject) => {
          this.waiter = { resolve, reject };
          this.deliver();
        }),
      // The consumer stopped early (it refused the snapshot): later pushes fail, so the stream is refused too.
      return: async () => {
        this.fail(new ChunkChannelClosedError("the consumer stopped reading the snapshot"));
        return { done: true, value: undefined };
      },
    };
  }

  private deliver(): void {
    const waiter = this.waiter;
    if (waiter === undefined) return;
    if (this.failure !== undefined) {
      this.waiter = undefined;
      waiter.reject(this.failure.error);
    } else if (this.offered !== undefined) {
      const { chunk, taken } = this.offered;
      this.offered = undefined;
      this.waiter = undefined;
      taken();
      waiter.resolve({ done: false, value: chunk });
    } else if (this.ended) {
      this.waiter = undefined;
      waiter.resolve({ done: true, value: undefined });
    }
  }
}
