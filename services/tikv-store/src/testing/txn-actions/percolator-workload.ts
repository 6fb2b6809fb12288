/**
 * The model-based test's workload: random transactions (2PC, async commit or 1PC, optimistic or
 * pessimistic) over a few hot keys, with clients crashing between requests, run one of two ways:
 *   - interleaved: one request at a time, a seeded scheduler picking the next transaction, against the
 *     pure actions over an in-memory store, on a simulated clock the scheduler moves (the whole run
 *     replays from its seed);
 *   - concurrent: several clients at once, each driving one transaction after another with random pauses,
 *     against any TxnRequests (a real store over gRPC), on pd's TSO and real time (a seed replays each
 *     transaction's plan and each client's choices, not how they interleave).
 * When every transaction has ended and every lock it could have left has expired, a last client resolves
 * whatever locks are left, as the lock resolver of any later reader (or the GC worker) would.
 */

import { physicalMsOf, prefixNext } from "#codec";
import { type Random, sleep } from "#runtime";
import { bytes } from "../bytes.ts";
import { ActionHarness } from "./action-harness.ts";
import { HarnessTxnRequests } from "./harness-txn-requests.ts";
import { LockResolver } from "./lock-resolver.ts";
import {
  type CommitProtocol,
  SimulatedTxn,
  type TxnEnvironment,
  type TxnOperation,
  type TxnPlan,
} from "./simulated-txn.ts";
import { TestClock } from "./test-clock.ts";
import type { KeyRange, TimestampOracle, TxnRequests } from "./txn-requests.ts";

export interface WorkloadOptions {
  /** Every key of the workload starts with it, so workloads sharing a store keep apart. */
  readonly keyPrefix: string;
  readonly keyCount: number;
  readonly txnCount: number;
  readonly maxConcurrentTxns: number;
  readonly maxOperationsPerTxn: number;
  /** Per scheduled request: the client disappears instead. */
  readonly crashChance: number;
  readonly heartbeatChance: number;
  /** Counted from start_ts's physical time, like every TTL. */
  readonly lockTtlsMs: readonly bigint[];
}

export interface InterleavedOptions extends WorkloadOptions {
  /** The clock moves by up to this much between two requests... */
  readonly maxClockStepMs: number;
  /** ...unless it stays in the same millisecond. */
  readonly sameMillisecondChance: number;
}

export interface ConcurrentOptions extends WorkloadOptions {
  /** A client pauses up to this long before each request, so the clients' requests interleave anew. */
  readonly maxPauseMs: number;
  /** A client that must wait for a lock backs off this long, doubling per wait up to the maximum. */
  readonly firstBackoffMs: number;
  readonly maxBackoffMs: number;
}

/** The events of a run (what each transaction and resolver did) go to the trace its caller passes. */
export interface WorkloadRun {
  readonly txns: readonly SimulatedTxn[];
  /** Holds the workload's keys and no others. */
  readonly range: KeyRange;
}

/** Every transaction ends well within this many requests; more means the clients are stuck. */
const MAX_REQUESTS = 20_000;
const MAX_REQUESTS_PER_TXN = 1_000;
const MAX_RESOLVE_ROUNDS = 10;
const MAX_EXPIRY_WAITS = 100;
const PROTOCOLS: readonly CommitProtocol[] = ["2pc", "2pc", "async", "1pc"];
/** Long values live in the default column family, so rollbacks and commits must handle them too. */
const LONG_VALUE_BYTES = 300;
const EPOCH_MS = 1_000_000n;

/** One request at a time against the pure actions; returns the harness so the test can read the store. */
export async function runInterleavedWorkload(
  random: Random,
  options: InterleavedOptions,
  trace: string[],
): Promise<WorkloadRun & { readonly harness: ActionHarness }> {
  const harness = new ActionHarness();
  const clock = new TestClock(EPOCH_MS);
  const env = environment(new HarnessTxnRequests(harness), clock, random, options, trace);
  const txns = plans(random, options, env.keys).map((plan) => new SimulatedTxn(plan, env));
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
  // Long after every TTL ran out.
  clock.advance(3_600_000n);
  await resolveLeftovers(env);
  return { harness, txns, range: env.scanRange };
}

/**
 * `maxConcurrentTxns` clients at once, each taking the next transaction when its last one ended, against
 * `requests` with timestamps from `tso`. Resolves after the last client stopped; throws the first client's
 * failure (the others stop at their next request).
 */
export async function runConcurrentWorkload(
  random: Random,
  options: ConcurrentOptions,
  store: { readonly requests: TxnRequests; readonly tso: TimestampOracle },
  trace: string[],
): Promise<WorkloadRun> {
  const env = environment(store.requests, store.tso, random, options, trace);
  // Each transaction has its own streams (one for its own choices, one for its client's pauses, crashes
  // and heartbeats), so what it does depends on the seed and on what the store answers, not on which
  // client runs it or when.
  const drives = plans(random, options, env.keys).map((plan) => ({
    txn: new SimulatedTxn(plan, { ...env, random: random.fork() }),
    random: random.fork(),
  }));
  const queue = [...drives];
  const failures: unknown[] = [];
  const stopped = () => failures.length > 0;
  const client = async (): Promise<void> => {
    for (let next = queue.shift(); next !== undefined && !stopped(); next = queue.shift()) {
      try {
        await drive(next.txn, next.random, options, stopped);
      } catch (error) {
        failures.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: options.maxConcurrentTxns }, client));
  if (failures.length > 0) throw failures[0];
  const txns = drives.map(({ txn }) => txn);
  const lastExpiryMs = txns.reduce(
    (latest, txn) => (txn.locksExpireAtMs > latest ? txn.locksExpireAtMs : latest),
    0n,
  );
  await untilPast(store.tso, lastExpiryMs);
  await resolveLeftovers(env);
  return { txns, range: env.scanRange };
}

/** Runs `txn` to its end, each request after a pause, unless `stopped()` (another client failed). */
async function drive(
  txn: SimulatedTxn,
  random: Random,
  options: ConcurrentOptions,
  stopped: () => boolean,
): Promise<void> {
  for (let requests = 0; !txn.done && !stopped(); requests++) {
    if (requests === MAX_REQUESTS_PER_TXN) {
      throw new Error(`${txn.plan.name} still running after ${MAX_REQUESTS_PER_TXN} requests`);
    }
    await sleep(random.intBetween(0, options.maxPauseMs + 1));
    if (random.chance(options.crashChance)) txn.crash();
    else if (random.chance(options.heartbeatChance)) await txn.heartbeat();
    else {
      await txn.step();
      // A lock it met may belong to a live transaction: give it time, as client-go's txnLock backoff does.
      if (txn.waits > 0) {
        await sleep(Math.min(options.firstBackoffMs * 2 ** (txn.waits - 1), options.maxBackoffMs));
      }
    }
  }
}

function environment(
  requests: TxnRequests,
  tso: TimestampOracle,
  random: Random,
  options: WorkloadOptions,
  trace: string[],
): TxnEnvironment {
  const keys = Array.from({ length: options.keyCount }, (_, index) => bytes(`${options.keyPrefix}k${index}`));
  const prefix = bytes(options.keyPrefix);
  const scanRange = { startKey: prefix, endKey: prefix.length === 0 ? prefix : prefixNext(prefix) };
  return { requests, tso, resolver: new LockResolver(requests, tso, trace), random, trace, keys, scanRange };
}

function plans(random: Random, options: WorkloadOptions, keys: readonly Uint8Array[]): TxnPlan[] {
  return Array.from({ length: options.txnCount }, (_, index) => plan(random, options, keys, `t${index}`));
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

/** Waits until the TSO's physical time is past `physicalMs`. */
async function untilPast(tso: TimestampOracle, physicalMs: bigint): Promise<void> {
  for (let wait = 0; wait < MAX_EXPIRY_WAITS; wait++) {
    const nowMs = physicalMsOf(await tso.getTimestamp());
    if (nowMs > physicalMs) return;
    await sleep(Number(physicalMs - nowMs) + 1);
  }
  throw new Error(`the TSO did not pass ${physicalMs} ms after ${MAX_EXPIRY_WAITS} waits`);
}

/** Once every TTL ran out, resolves every lock left until none is. */
async function resolveLeftovers(env: TxnEnvironment): Promise<void> {
  const { requests, resolver, trace, scanRange } = env;
  for (let round = 0; round < MAX_RESOLVE_ROUNDS; round++) {
    const locks = await requests.scanLocks(scanRange);
    if (locks.length === 0) return;
    for (const { key, lock } of locks) {
      const outcome = await resolver.resolve(key, lock, 0n);
      trace.push(`cleanup: lock of ${lock.startTs} on ${Buffer.from(key).toString("hex")}: ${outcome}`);
    }
  }
  throw new Error(`locks left after ${MAX_RESOLVE_ROUNDS} rounds of resolving`);
}
