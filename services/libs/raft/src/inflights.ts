/**
 * The append messages sent to one follower and not yet acknowledged, as a ring buffer of (last index,
 * bytes). The leader stops sending when it is full (by count or bytes), bounding memory and network use
 * per follower, and frees messages as acknowledgements arrive.
 */
export class Inflights {
  private readonly lastIndexes: Float64Array;
  private readonly sizesBytes: Float64Array;
  private start = 0;
  private countValue = 0;
  private bytesValue = 0;

  /** `maxBytes` 0 means no byte limit. */
  constructor(
    readonly capacity: number,
    readonly maxBytes = 0,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`inflights capacity must be a positive integer, got ${capacity}`);
    }
    this.lastIndexes = new Float64Array(capacity);
    this.sizesBytes = new Float64Array(capacity);
  }

  get count(): number {
    return this.countValue;
  }

  get bytes(): number {
    return this.bytesValue;
  }

  full(): boolean {
    return this.countValue === this.capacity || (this.maxBytes > 0 && this.bytesValue >= this.maxBytes);
  }

  /** Records a message whose last entry is `lastIndex`; indexes must increase. */
  add(lastIndex: number, sizeBytes: number): void {
    if (this.full()) throw new RangeError("cannot add to full inflights");
    let slot = this.start + this.countValue;
    if (slot >= this.capacity) slot -= this.capacity;
    this.lastIndexes[slot] = lastIndex;
    this.sizesBytes[slot] = sizeBytes;
    this.countValue++;
    this.bytesValue += sizeBytes;
  }

  /** Frees every message whose last index is <= `index` (they are acknowledged). */
  freeLE(index: number): void {
    let slot = this.start;
    let freed = 0;
    let freedBytes = 0;
    while (freed < this.countValue && this.lastIndexes[slot]! <= index) {
      freedBytes += this.sizesBytes[slot]!;
      freed++;
      slot++;
      if (slot === this.capacity) slot = 0;
    }
    this.countValue -= freed;
    this.bytesValue -= freedBytes;
    this.start = this.countValue === 0 ? 0 : slot;
  }

  reset(): void {
    this.start = 0;
    this.countValue = 0;
    this.bytesValue = 0;
  }
}
