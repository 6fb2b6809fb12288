/**
 * Randomness as an injectable dependency, so a simulation seeded with `SEED=n` replays exactly.
 *
 * Generator choice: sfc32 (Chris Doty-Humphrey's "small fast chaotic" PRNG, PractRand-clean, 128-bit state,
 * only 32-bit adds/xors/rotations so it is fast without bigint). Its four state words are filled by
 * splitmix64 from a 64-bit seed, which spreads nearby seeds (0, 1, 2 …) into unrelated states. Not
 * cryptographic: never use it for secrets.
 */
import { randomBytes } from "node:crypto";
import { InvariantError } from "./invariant-error.ts";

export interface Random {
  /** Uniform integer in [0, 2^32). */
  nextUint32(): number;
  /** Uniform float in [0, 1) with 53 random bits. */
  nextFloat(): number;
  /** Uniform integer in [0, bound), without modulo bias; bound is an integer in [1, 2^53]. */
  intBelow(bound: number): number;
  /** Uniform integer in [lo, hiExclusive). */
  intBetween(lo: number, hiExclusive: number): number;
  /** True with the given probability in [0, 1]. */
  chance(probability: number): boolean;
  /** A uniformly chosen element; throws on an empty list. */
  pick<T>(items: readonly T[]): T;
  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[];
  /**
   * An independent child stream derived deterministically from this one (it consumes two draws of the
   * parent), so giving each simulated node its own fork keeps one node's draws from shifting another's.
   */
  fork(): Random;
}

const TWO_POW_32 = 2 ** 32;
const TWO_POW_53 = 2 ** 53;
const UINT64_MASK = (1n << 64n) - 1n;
// Rejection sampling below accepts each draw with probability > 1/2, so this many rejections in a row has
// probability < 2^-128: reaching the bound means the generator is broken, not unlucky.
const MAX_REJECTIONS = 128;

export class SeededRandom implements Random {
  /** The seed reduced to 64 bits, printed by simulations so a failing run can be replayed. */
  readonly seed: bigint;
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `seed` is a safe integer (negative values wrap) or any bigint (taken modulo 2^64). */
  constructor(seed: number | bigint) {
    if (typeof seed === "number" && !Number.isSafeInteger(seed)) {
      throw new RangeError(`SeededRandom seed must be a safe integer or a bigint, got ${seed}`);
    }
    this.seed = BigInt.asUintN(64, BigInt(seed));
    let splitmixState = this.seed;
    const nextSeedWord = (): bigint => {
      splitmixState = (splitmixState + 0x9e3779b97f4a7c15n) & UINT64_MASK;
      let z = splitmixState;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & UINT64_MASK;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & UINT64_MASK;
      return z ^ (z >> 31n);
    };
    const first = nextSeedWord();
    const second = nextSeedWord();
    this.a = Number(first >> 32n);
    this.b = Number(first & 0xffffffffn);
    this.c = Number(second >> 32n);
    this.d = Number(second & 0xffffffffn);
    // Recommended warm-up for sfc32 so the first outputs do not mirror the seed words.
    for (let round = 0; round < 12; round++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  nextFloat(): number {
    return this.nextUint53() / TWO_POW_53;
  }

  intBelow(bound: number): number {
    if (!Number.isInteger(bound) || bound < 1 || bound > TWO_POW_53) {
      throw new RangeError(`intBelow bound must be an integer in [1, 2^53], got ${bound}`);
    }
    const useWideDraw = bound > TWO_POW_32;
    const range = useWideDraw ? TWO_POW_53 : TWO_POW_32;
    // Draws at or above the largest multiple of `bound` would make small results more likely; reject them.
    const limit = range - (range % bound);
    for (let attempt = 0; attempt < MAX_REJECTIONS; attempt++) {
      const draw = useWideDraw ? this.nextUint53() : this.nextUint32();
      if (draw < limit) return draw % bound;
    }
    throw new InvariantError(
      `intBelow(${bound}): ${MAX_REJECTIONS} rejections in a row; the generator is broken`,
    );
  }

  intBetween(lo: number, hiExclusive: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hiExclusive) || hiExclusive <= lo) {
      throw new RangeError(
        `intBetween needs safe integers with lo < hiExclusive, got [${lo}, ${hiExclusive})`,
      );
    }
    return lo + this.intBelow(hiExclusive - lo);
  }

  chance(probability: number): boolean {
    if (!(probability >= 0 && probability <= 1)) {
      throw new RangeError(`chance probability must be in [0, 1], got ${probability}`);
    }
    return this.nextFloat() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick from an empty list");
    return items[this.intBelow(items.length)]!;
  }

  shuffle<T>(items: T[]): T[] {
    for (let index = items.length - 1; index > 0; index--) {
      const swapWith = this.intBelow(index + 1);
      const held = items[index]!;
      items[index] = items[swapWith]!;
      items[swapWith] = held;
    }
    return items;
  }

  fork(): SeededRandom {
    const high = BigInt(this.nextUint32());
    const low = BigInt(this.nextUint32());
    return new SeededRandom((high << 32n) | low);
  }

  private nextUint53(): number {
    const high21 = this.nextUint32() >>> 11;
    const low32 = this.nextUint32();
    return high21 * TWO_POW_32 + low32;
  }
}

/** Seeded from the OS entropy source; for production code paths that want a `Random` (jitter, sampling). */
export const systemRandom: Random = new SeededRandom(randomBytes(8).readBigUInt64BE(0));
