/**
 * The cluster-wide GC safe point: versions older than it may be garbage collected, so it must never move
 * backwards (a reader at an older timestamp could otherwise see data that has already been removed).
 */
import { GC_SAFE_POINT_KEY, type MetaStorage } from "../storage/index.ts";

export class GcSafePoint {
  private current = 0n;
  private updating: Promise<bigint> = Promise.resolve(0n);

  constructor(private readonly storage: MetaStorage) {}

  get value(): bigint {
    return this.current;
  }

  async load(): Promise<void> {
    const saved = await this.storage.load(GC_SAFE_POINT_KEY);
    const text = saved === undefined ? "0" : new TextDecoder().decode(saved);
    if (!/^\d+$/.test(text)) throw new Error(`stored GC safe point "${text}" is not a number`);
    this.current = BigInt(text);
  }

  /** Raises the safe point (a lower value is ignored) and returns the value now in force. */
  update(proposed: bigint): Promise<bigint> {
    // Updates run one after another so two concurrent raises cannot persist out of order.
    const next = this.updating
      .catch(() => this.current)
      .then(async () => {
        if (proposed <= this.current) return this.current;
        await this.storage.save(GC_SAFE_POINT_KEY, new TextEncoder().encode(proposed.toString()));
        this.current = proposed;
        return proposed;
      });
    this.updating = next;
    return next;
  }
}
