/**
 * One transaction (TiDB's KVTxn): reads at start_ts merged with its own buffered writes, writes buffered
 * until commit, optional pessimistic locking of keys as statements go, statement staging, commit (2PC)
 * and rollback. A read-only transaction commits nothing. Not safe for concurrent use by several callers:
 * like a database session, one statement at a time.
 */
import { compareBytes } from "#codec";
import { kvrpcpb } from "#proto";
import { BackoffKinds } from "../backoff/backoff-kind.ts";
import { keyHex } from "../raw/key-range.ts";
import type { RegionSendResult } from "../rpc/region-request-sender.ts";
import { RegionRetry } from "../rpc/region-retry.ts";
import { UnknownOutcomeError } from "../rpc/rpc-errors.ts";
import type { Committer } from "./committer.ts";
import { TxnHeartbeat } from "./heartbeat.ts";
import type { LockResolver } from "./lock-resolver.ts";
import { type BufferedWrite, MemBuffer } from "./mem-buffer.ts";
import { sendByRegion } from "./region-requests.ts";
import type { KvPair, Snapshot, SnapshotScanOptions } from "./snapshot.ts";
import {
  DeadlockError,
  KeyExistsError,
  LockWaitTimeoutError,
  TxnAbortedError,
  TxnArgumentError,
  TxnClosedError,
  UnexpectedKeyError,
  WriteConflictError,
} from "./txn-errors.ts";
import type { TxnParts } from "./txn-parts.ts";

export interface LockKeysOptions {
  /** How long to wait for another transaction's lock; 0 or undefined uses the store's default, < 0 does not wait. */
  readonly waitTimeoutMs?: number;
}

type TxnState = "active" | "committed" | "rolled-back";

/** What a store waits for a lock when a request asks for its default (pessimistic-txn.wait-for-lock-timeout). */
const DEFAULT_STORE_LOCK_WAIT_MS = 1_000;

export class Transaction {
  private readonly buffer = new MemBuffer();
  private state: TxnState = "active";
  private primary: Uint8Array | undefined;
  private forUpdateTs = 0n;
  /**
   * Values of pessimistically locked keys as of their lock's for_update_ts: what later reads of this
   * transaction see for them (a "current read", as TiDB's DML does), since a value read at start_ts may
   * already have been overwritten before the lock was taken.
   */
  private readonly lockedValues = new Map<string, Uint8Array | undefined>();
  /** Keys holding this transaction's pessimistic lock, by hex key (also those of a lockKeys call that failed). */
  private readonly pessimisticLocked = new Map<string, Uint8Array>();
  private readonly startedAtMs: number;
  private readonly heartbeat: TxnHeartbeat;

  constructor(
    private readonly parts: TxnParts,
    private readonly snapshot: Snapshot,
    private readonly committer: Committer,
    private readonly resolver: LockResolver,
    readonly pessimistic: boolean,
  ) {
    this.startedAtMs = parts.settings.clock.monotonicMs();
    this.heartbeat = new TxnHeartbeat(parts, () => this.primary, snapshot.readTs, this.startedAtMs);
  }

  get startTs(): bigint {
    return this.snapshot.readTs;
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.checkActive("get");
    const buffered = this.buffer.get(key);
    if (buffered?.kind === "put") return buffered.value;
    if (buffered?.kind === "delete") return undefined;
    if (this.lockedValues.has(keyHex(key))) return this.lockedValues.get(keyHex(key));
    return this.snapshot.get(key);
  }

  /** Values in the order of `keys` (undefined when absent). */
  async batchGet(keys: readonly Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    this.checkActive("batchGet");
    const unbuffered = keys.filter((key) => {
      const kind = this.buffer.get(key)?.kind;
      return (kind === undefined || kind === "lock") && !this.lockedValues.has(keyHex(key));
    });
    const read =
      unbuffered.length === 0 ? new Map<string, Uint8Array>() : await this.snapshot.batchGet(unbuffered);
    return keys.map((key) => {
      const buffered = this.buffer.get(key);
      if (buffered?.kind === "put") return buffered.value;
      if (buffered?.kind === "delete") return undefined;
      if (this.lockedValues.has(keyHex(key))) return this.lockedValues.get(keyHex(key));
      return read.get(keyHex(key));
    });
  }

  /** Up to `limit` pairs of [startKey, endKey), the transaction's own writes included. */
  async scan(
    startKey: Uint8Array,
    endKey: Uint8Array,
    limit: number,
    options: SnapshotScanOptions = {},
  ): Promise<KvPair[]> {
    this.checkActive("scan");
    const reverse = options.reverse ?? false;
    const own = this.buffer.range(startKey, endKey, reverse).filter((write) => write.kind !== "lock");
    // Each buffered write can hide at most one stored key, so this many more stored pairs always suffice.
    const stored = await this.snapshot.scan(startKey, endKey, limit + own.length, options);
    const merged = new Map<string, KvPair | undefined>();
    for (const pair of stored) merged.set(keyHex(pair.key), pair);
    const lastStored = stored.at(-1)?.key;
    const storedComplete = stored.length < limit + own.length;
    for (const write of own) {
      const beyond =
        !storedComplete &&
        lastStored !== undefined &&
        (reverse ? compareBytes(write.key, lastStored) < 0 : compareBytes(write.key, lastStored) > 0);
      // Past the last stored key fetched, stored keys are unknown: the page ends there.
      if (beyond) continue;
      merged.set(
        keyHex(write.key),
        write.kind === "put"
          ? { key: write.key, value: options.keyOnly ? new Uint8Array(0) : write.value }
          : undefined,
      );
    }
    const pairs = [...merged.values()].filter((pair): pair is KvPair => pair !== undefined);
    pairs.sort((left, right) =>
      reverse ? compareBytes(right.key, left.key) : compareBytes(left.key, right.key),
    );
    return pairs.slice(0, limit);
  }

  set(key: Uint8Array, value: Uint8Array): void {
    this.write({ kind: "put", key, value, mustNotExist: false });
  }

  /** A put that fails the commit with KeyExistsError if the key exists. */
  insert(key: Uint8Array, value: Uint8Array): void {
    this.write({ kind: "put", key, value, mustNotExist: true });
  }

  delete(key: Uint8Array): void {
    this.write({ kind: "delete", key });
  }

  /** Opens a statement's staging level (see MemBuffer). */
  stage(): number {
    return this.buffer.stage();
  }

  release(handle: number): void {
    this.buffer.release(handle);
  }

  cleanup(handle: number): void {
    this.buffer.cleanup(handle);
  }

  /**
   * Pessimistic transactions: locks `keys` at a fresh for_update_ts so no other transaction can commit
   * them until this one ends. Waits for other transactions' locks up to the timeout; a wait that would
   * close a cycle fails with DeadlockError, one that times out with LockWaitTimeoutError, and a key
   * committed since this transaction's for_update_ts with WriteConflictError (the statement retries).
   */
  async lockKeys(keys: readonly Uint8Array[], options: LockKeysOptions = {}): Promise<void> {
    this.checkActive("lockKeys");
    if (!this.pessimistic) throw new TxnArgumentError("lockKeys needs a pessimistic transaction");
    const wanted = [...new Map(keys.map((key) => [keyHex(key), key])).values()].filter(
      (key) => !this.pessimisticLocked.has(keyHex(key)),
    );
    if (wanted.length === 0) return;
    wanted.forEach(checkKey);
    const forUpdateTs = await this.parts.tso();
    // Before any request: a rollback after a partly granted call must cover the locks taken at this ts.
    if (forUpdateTs > this.forUpdateTs) this.forUpdateTs = forUpdateTs;
    // Only a transaction asking for one key while holding none cannot be part of a cycle; several keys may
    // be granted in one region while another region's request waits.
    const isFirstLock = this.pessimisticLocked.size === 0 && wanted.length === 1;
    this.primary ??= wanted[0]!;
    const primary = this.primary;
    const retry = new RegionRetry(this.parts.newBackoffer(this.parts.settings.prewriteBudgetMs));
    const waitTimeoutMs = BigInt(Math.trunc(options.waitTimeoutMs ?? 0));
    await sendByRegion(
      this.parts,
      {
        items: wanted,
        keyOf: (key) => key,
        sizeOf: (key) => key.length,
        send: async (location, batch, subRetry) => {
          const build = (context: kvrpcpb.Context) =>
            kvrpcpb.PessimisticLockRequest.fromPartial({
              context,
              mutations: batch.map((key) => ({ op: kvrpcpb.Op.PESSIMISTIC_LOCK, key })),
              primaryLock: primary,
              startTs: this.startTs,
              // Kept alive by the heartbeat while the transaction lives (TiDB's managed lock TTL).
              lockTtlMs: BigInt(
                Math.ceil(
                  this.parts.settings.clock.monotonicMs() -
                    this.startedAtMs +
                    this.parts.settings.managedLockTtlMs,
                ),
              ),
              forUpdateTs,
              isFirstLock,
              waitTimeoutMs,
              minCommitTs: this.startTs + 1n,
              returnValues: true,
            });
          let result: RegionSendResult<"pessimisticLock">;
          try {
            // The store answers only when the wait ends: the attempt's deadline must outlast the wait.
            const deadlineMs =
              this.parts.settings.requestTimeoutMs +
              Math.max(0, Number(waitTimeoutMs || DEFAULT_STORE_LOCK_WAIT_MS));
            result = await this.parts.sender.send(
              location,
              "pessimisticLock",
              build,
              subRetry,
              "leader",
              deadlineMs,
            );
          } catch (error) {
            // Locking is idempotent for one transaction (a retry finds its own lock), so an unknown outcome
            // is simply asked again.
            if (!(error instanceof UnknownOutcomeError)) throw error;
            await subRetry.backoff(BackoffKinds.tikvRPC, error);
            return false;
          }
          if (result.kind === "relocate") return false;
          const error = result.response.errors[0];
          if (error?.locked !== undefined) {
            // The wait ended with the lock still there: its transaction may be dead (a client that
            // vanished never releases). Resolve it; if it is gone, ask again, else the wait timed out.
            const resolved = await this.resolver.resolve([error.locked], 0n, subRetry);
            if (resolved.msBeforeExpired > 0) throw lockError(this.startTs, error);
            return false;
          }
          if (error !== undefined) throw lockError(this.startTs, error);
          const { values, notFounds } = result.response;
          batch.forEach((key, index) => {
            this.pessimisticLocked.set(keyHex(key), key);
            this.lockedValues.set(keyHex(key), notFounds[index] ? undefined : values[index]);
          });
          return true;
        },
      },
      retry,
    );
    for (const key of wanted) this.buffer.set({ kind: "lock", key });
    this.heartbeat.start();
  }

  /** Commits the buffered writes; resolves with the commit_ts, or undefined when there was nothing to write. */
  async commit(): Promise<bigint | undefined> {
    this.checkActive("commit");
    const writes = this.buffer.sorted();
    if (writes.length === 0) {
      this.state = "committed";
      return undefined;
    }
    this.state = "committed";
    this.primary ??= writes[0]!.key;
    // A big commit may outlast its locks' TTL; a small one finishes well within it.
    if (this.buffer.sizeBytes >= this.parts.settings.maxBytesPerRequest) this.heartbeat.start();
    try {
      return await this.committer.commit({
        startTs: this.startTs,
        writes,
        primary: this.primary,
        forUpdateTs: this.forUpdateTs,
        pessimisticLocked: new Set(this.pessimisticLocked.keys()),
        sizeBytes: this.buffer.sizeBytes,
        startedAtMs: this.startedAtMs,
      });
    } finally {
      this.heartbeat.stop();
    }
  }

  /** Drops the buffered writes and this transaction's pessimistic locks. */
  async rollback(): Promise<void> {
    if (this.state !== "active") return;
    this.state = "rolled-back";
    this.heartbeat.stop();
    if (this.pessimisticLocked.size === 0) return;
    const keys = [...this.pessimisticLocked.values()];
    const retry = new RegionRetry(this.parts.newBackoffer(this.parts.settings.commitBudgetMs));
    await sendByRegion(
      this.parts,
      {
        items: keys,
        keyOf: (key) => key,
        sizeOf: (key) => key.length,
        send: async (location, batch, subRetry) => {
          const build = (context: kvrpcpb.Context) => ({
            context,
            startTs: this.startTs,
            forUpdateTs: this.forUpdateTs,
            keys: [...batch],
          });
          const result = await this.parts.sender.send(location, "pessimisticRollback", build, subRetry);
          return result.kind === "answered";
        },
      },
      retry,
    );
  }

  private write(write: BufferedWrite): void {
    this.checkActive("write");
    checkKey(write.key);
    this.buffer.set(write);
  }

  private checkActive(operation: string): void {
    if (this.state !== "active")
      throw new TxnClosedError(`cannot ${operation}: the transaction is ${this.state}`);
  }
}

function checkKey(key: Uint8Array): void {
  if (key.length === 0) throw new TxnArgumentError("keys must not be empty");
}

function lockError(startTs: bigint, error: kvrpcpb.KeyError): Error {
  if (error.deadlock !== undefined) {
    return new DeadlockError(error.deadlock.lockKey, error.deadlock.lockTs, error.deadlock.waitChain);
  }
  if (error.locked !== undefined) return new LockWaitTimeoutError(error.locked.key, error.locked.lockTs);
  if (error.conflict !== undefined) {
    const conflict = error.conflict;
    return new WriteConflictError(conflict.key, startTs, conflict.conflictTs, conflict.conflictCommitTs);
  }
  if (error.alreadyExist !== undefined) return new KeyExistsError(error.alreadyExist.key);
  if (error.abort !== "") return new TxnAbortedError(`transaction ${startTs}: ${error.abort}`);
  return new UnexpectedKeyError(`pessimistic lock`, error);
}
