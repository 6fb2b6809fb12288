/**
 * The cluster-wide GC safe point: versions older than it may be garbage collected, so it must never move
 * backwards (a reader at an older timestamp could otherwise see data that has already been removed).
 */
import { GC_SAFE_POINT_KEY, MalformedStoredValueError, type MetaStorage } from "../storage/index.ts";

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
    if (!/^\d+$/.test(text)) throw new MalformedStoredValueError(GC_SAFE_POINT_KEY, text, "a GC safe point");
    this.current = BigInt(text);
  }

  /** Raises the safe point (a lower value is ignored) and returns the value now in force. */
  update(proposed: bigint): Promise<bigint> {
    const raise = async (): Promise<bigint> => {
      if (proposed <= this.current) return this.current;
      await this.storage.save(GC_SAFE_POINT_KEY, new TextEncoder().encode(proposed.toString()));
      this.current = proposed;
      return proposed;
    };
    // Updates run one after another so two concurrent raises cannot persist out of order. The previous
    // update's failure is its own caller's to handle; this one runs either way.
    const next = this.updating.then(raise, raise);
    this.updating = next;
    return next;
  }
}
