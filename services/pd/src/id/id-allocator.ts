/**
 * Cluster-wide unique ids (stores, regions, peers) handed out from persisted blocks: the end of a block is
 * saved before any id in it is returned, so after a crash or a leader change the next leader starts from
 * the saved end and can never hand out an id twice. A crash wastes at most the rest of one block.
 */
import { ID_NEXT_KEY, MalformedStoredValueError, type MetaStorage } from "../storage/index.ts";

export const DEFAULT_ID_BLOCK_SIZE = 1000;

export interface IdAllocatorOptions {
  readonly storage: MetaStorage;
  /** Ids reserved per storage write [1000]. */
  readonly blockSize?: number;
}

/** This member is not the ready leader, so it must not hand out ids. */
export class IdAllocatorNotServingError extends Error {
  override readonly name = "IdAllocatorNotServingError";
  constructor() {
    super("id allocator is not serving: this pd member is not the ready leader");
  }
}

export class IdAllocator {
  private readonly blockSize: bigint;
  private serving = false;
  private generation = 0;
  /** Last id handed out. */
  private current = 0n;
  /** Last id of the persisted block; ids above it are not reserved yet. */
  private blockEnd = 0n;
  private reservation: Promise<void> | undefined;

  constructor(private readonly options: IdAllocatorOptions) {
    const blockSize = options.blockSize ?? DEFAULT_ID_BLOCK_SIZE;
    if (!Number.isSafeInteger(blockSize) || blockSize < 1) {
      throw new RangeError(`id block size must be a positive integer, got ${blockSize}`);
    }
    this.blockSize = BigInt(blockSize);
  }

  /** Called when this member becomes leader: continues after the last block any leader reserved. */
  async start(): Promise<void> {
    this.stop();
    const generation = this.generation;
    const saved = await loadBlockEnd(this.options.storage);
    if (generation !== this.generation) throw new IdAllocatorNotServingError();
    this.current = saved;
    this.blockEnd = saved;
    this.serving = true;
  }

  stop(): void {
    this.serving = false;
    this.generation++;
    this.reservation = undefined;
  }

  async allocate(): Promise<bigint> {
    const [id] = await this.allocateMany(1);
    return id!;
  }

  /** `count` ids, not necessarily consecutive when they span a block boundary. */
  async allocateMany(count: number): Promise<bigint[]> {
    if (!Number.isSafeInteger(count) || count < 0)
      throw new RangeError(`id count must be >= 0, got ${count}`);
    const ids: bigint[] = [];
    while (ids.length < count) {
      if (!this.serving) throw new IdAllocatorNotServingError();
      if (this.current < this.blockEnd) {
        this.current += 1n;
        ids.push(this.current);
        continue;
      }
      await this.reserveBlock(BigInt(count - ids.length));
    }
    return ids;
  }

  /** Single-flight: callers that run out together share one storage write. */
  private reserveBlock(needed: bigint): Promise<void> {
    if (this.reservation !== undefined) return this.reservation;
    const generation = this.generation;
    const blocks = (needed + this.blockSize - 1n) / this.blockSize;
    const newEnd = this.blockEnd + blocks * this.blockSize;
    const reservation = this.options.storage
      .save(ID_NEXT_KEY, new TextEncoder().encode(newEnd.toString()))
      .then(() => {
        if (generation !== this.generation) throw new IdAllocatorNotServingError();
        this.blockEnd = newEnd;
      });
    this.reservation = reservation;
    const clear = (): void => {
      if (this.reservation === reservation) this.reservation = undefined;
    };
    reservation.then(clear, clear);
    return reservation;
  }
}

async function loadBlockEnd(storage: MetaStorage): Promise<bigint> {
  const saved = await storage.load(ID_NEXT_KEY);
  if (saved === undefined) return 0n;
  const text = new TextDecoder().decode(saved);
  if (!/^\d+$/.test(text)) throw new MalformedStoredValueError(ID_NEXT_KEY, text, "an id block end");
  return BigInt(text);
}
