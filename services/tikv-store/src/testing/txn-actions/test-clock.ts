/**
 * The timestamp oracle of the model-based transaction test's interleaved runs: one shared source of
 * strictly increasing TSO timestamps over a physical clock the test advances, so lock TTLs (counted in
 * physical ms) expire as the simulated time goes by.
 */
import { composeTimestamp, LOGICAL_LIMIT } from "#codec";
import type { TimestampOracle } from "./txn-requests.ts";

export class TestClock implements TimestampOracle {
  private physicalMs: bigint;
  private logical = 0n;

  constructor(startMs: bigint) {
    this.physicalMs = startMs;
  }

  advance(ms: bigint): void {
    if (ms <= 0n) return;
    this.physicalMs += ms;
    this.logical = 0n;
  }

  /** A fresh timestamp, above every one handed out before. */
  next(): bigint {
    this.logical++;
    if (this.logical === BigInt(LOGICAL_LIMIT)) this.advance(1n);
    return composeTimestamp(this.physicalMs, this.logical);
  }

  async getTimestamp(): Promise<bigint> {
    return this.next();
  }
}
