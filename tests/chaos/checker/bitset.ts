// A fixed-size set of operation indices: the "linearized so far" part of the WGL cache key.
export class Bitset {
  private constructor(readonly words: Uint32Array) {}

  static ofSize(size: number): Bitset {
    return new Bitset(new Uint32Array(Math.ceil(size / 32)));
  }

  set(index: number): void {
    this.words[index >>> 5]! |= 1 << (index & 31);
  }

  clear(index: number): void {
    this.words[index >>> 5]! &= ~(1 << (index & 31));
  }

  has(index: number): boolean {
    return (this.words[index >>> 5]! & (1 << (index & 31))) !== 0;
  }

  equals(other: Bitset): boolean {
    for (let index = 0; index < this.words.length; index++) {
      if (this.words[index] !== other.words[index]) return false;
    }
    return true;
  }

  clone(): Bitset {
    return new Bitset(this.words.slice());
  }
}
