/**
 * The model-based test's workload: random transactions (2PC, async commit or 1PC, optimistic or
 * pessimistic) over a few hot keys, interleaved request by request against one in-memory store, with
 * clients crashing between requests. When every transaction has ended, a last client resolves whatever
 * locks are left, as the lock resolver of any later reader (or the GC worker) would.
 */

import type { Random } from "#runtime";
import { scanLocks } from "../../txn/actions/scan-lock.ts";
import { bytes } from "../bytes.ts";
import { ActionHarness } from "./action-harness.ts";
import { LockResolver } from "./lock-resolver.ts";
import { type CommitProtocol, SimulatedTxn, type TxnOperation, type TxnPlan } from "./simulated-txn.ts";
import { TestClock } from "./test-clock.ts";

export interface WorkloadOptions {
  readonly keyCount: number;
  readonly txnCount: number;
  readonly maxConcurrentTxns: number;
  readonly maxOperationsPerTxn: number;
  /** Per scheduled request: the client disappears instead. */
  readonly crashChance: number;
  readonly heartbeatChance: number;
  /** The clock moves by up to this much between two requests... */
  readonly maxClockStepMs: number;
  /** ...unless it stays in the same millisecond. */
  readonly sameMillisecondChance: number;
  readonly lockTtlsMs: readonly bigint[];
}

export interface WorkloadRun {
  readonly harness: ActionHarness;
  readonly txns: readonly SimulatedTxn[];
  readonly trace: readonly string[];
}

/** Every transaction ends well within this many requests; more means the clients are stuck. */
const MAX_REQUESTS = 20_000;
const MAX_RESOLVE_ROUNDS = 10;
const PROTOCOLS: readonly CommitProtocol[] = ["2pc", "2pc", "async", "1pc"];
/** Long values live in the default column family, so rollbacks and commits must handle them too. */
const LONG_VALUE_BYTES = 300;
const EPOCH_MS = 1_000_000n;

export async function runWorkload(random: Random, options: WorkloadOptions): Promise<WorkloadRun> {
  const harness = new ActionHarness();
  const clock = new TestClock(EPOCH_MS);
  const trace: string[] = [];
  const keys = Array.from({ length: options.keyCount }, (_, index) => bytes(`k${index}`));
  const env = { harness, clock, resolver: new LockResolver(harness, clock, trace), random, trace, keys };
  const txns = Array.from(
    { length: options.txnCount },
    (_, index) => new SimulatedTxn(plan(random, options, keys, `t${index}`), env),
  );
  const waiting = [...txns];
  let active: SimulatedTxn[] = [];
  for (let requests = 0; waiting.length > 0 || active.length > 0; requests++) {
    if (requests === MAX_REQUESTS)
      throw new Error(`transactions still running after ${MAX_REQUESTS} requests`);
    const admit = active.length === 0 || (active.length < options.maxConcurrentTxns && random.chance(0.3));
    if (waiting.length > 0 && admit) active.push(waiting.shift()!);
    const txn = random.pick(active);
    // Requests within one millisecond get consecutive logical timestamps, so a commit_ts computed as
    // start_ts + 1 or max_ts + 1 (async commit, 1PC) often equals another transaction's start_ts: the
    // overlapped-rollback cases.
    if (!random.chance(options.sameMillisecondChance))
      clock.advance(BigInt(random.intBetween(1, options.maxClockStepMs + 1)));
    if (random.chance(options.crashChance)) txn.crash();
    else if (random.chance(options.heartbeatChance)) await txn.heartbeat();
    else await txn.step();
    active = active.filter((candidate) => !candidate.done);
  }
  await resolveLeftovers(harness, env.resolver, clock, trace);
  return { harness, txns, trace };
}

function plan(random: Random, options: WorkloadOptions, keys: readonly Uint8Array[], name: string): TxnPlan {
  const operations: TxnOperation[] = [];
  const count = random.intBetween(1, options.maxOperationsPerTxn + 1);
  for (let index = 0; index < count; index++) {
    const key = random.pick(keys);
    const roll = random.nextFloat();
    if (roll < 0.35) operations.push({ kind: "get", key });
    else if (roll < 0.45) operations.push({ kind: "scan", reverse: random.chance(0.5) });
    else if (roll < 0.85) operations.push({ kind: "put", key, value: writtenValue(random, name, index) });
    else operations.push({ kind: "delete", key });
  }
  return {
    name,
    protocol: random.pick(PROTOCOLS),
    pessimistic: random.chance(0.4),
    operations,
    lockTtlMs: random.pick(options.lockTtlsMs),
  };
}

function writtenValue(random: Random, name: string, index: number): Uint8Array {
  const value = `${name}.${index}`;
  return bytes(random.chance(0.15) ? value.padEnd(LONG_VALUE_BYTES, "+") : value);
}

/** Long after every TTL ran out, resolves every lock left until none is. */
async function resolveLeftovers(
  harness: ActionHarness,
  resolver: LockResolver,
  clock: TestClock,
  trace: string[],
): Promise<void> {
  clock.advance(3_600_000n);
  const everything = { startKey: new Uint8Array(0), endKey: new Uint8Array(0) };
  for (let round = 0; round < MAX_RESOLVE_ROUNDS; round++) {
    const locks = await scanLocks(harness.storage, everything, () => true, Number.MAX_SAFE_INTEGER);
    if (locks.length === 0) return;
    for (const { key, lock } of locks) {
      const outcome = await resolver.resolve(key, lock, 0n);
      trace.push(`cleanup: lock of ${lock.startTs} on ${Buffer.from(key).toString("hex")}: ${outcome}`);
    }
  }
  throw new Error(`locks left after ${MAX_RESOLVE_ROUNDS} rounds of resolving`);
}
