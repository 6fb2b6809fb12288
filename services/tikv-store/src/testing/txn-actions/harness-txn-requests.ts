/**
 * TxnRequests over the pure actions and an in-memory store (the ActionHarness): each request runs its
 * action the way the scheduler does, all or nothing, and keeps max_ts the way the store does — every
 * read_ts served and every reader's CheckTxnStatus raise it, and async-commit and 1PC prewrites commit
 * above it.
 */
import type { KeyError } from "../../mvcc/key-error.ts";
import { type ReadOptions, type ReadPair, SnapshotReader } from "../../mvcc/snapshot-reader.ts";
import { batchRollback } from "../../txn/actions/batch-rollback.ts";
import { checkSecondaryLocks } from "../../txn/actions/check-secondary-locks.ts";
import { type CheckTxnStatusParams, checkTxnStatus } from "../../txn/actions/check-txn-status.ts";
import { commit } from "../../txn/actions/commit.ts";
import { txnHeartBeat } from "../../txn/actions/heartbeat.ts";
import { pessimisticLock, pessimisticRollback } from "../../txn/actions/pessimistic-lock.ts";
import { prewrite } from "../../txn/actions/prewrite.ts";
import { resolveLocks } from "../../txn/actions/resolve-lock.ts";
import { scanLocks } from "../../txn/actions/scan-lock.ts";
import type { ActionHarness } from "./action-harness.ts";
import type {
  KeyRange,
  PessimisticLockRequest,
  PointRead,
  PrewriteRequest,
  RangeRead,
  ScanRange,
  TxnRequests,
} from "./txn-requests.ts";

export class HarnessTxnRequests implements TxnRequests {
  constructor(private readonly harness: ActionHarness) {}

  async get(key: Uint8Array, read: ReadOptions): Promise<PointRead> {
    return this.snapshot(read).get(key);
  }

  async scan(range: ScanRange, read: ReadOptions): Promise<RangeRead> {
    const pairs = await this.snapshot(read).scan({ ...range, keyOnly: false });
    const blocked = pairs.find((pair): pair is Extract<ReadPair, { error: KeyError }> => "error" in pair);
    if (blocked !== undefined) return { error: blocked.error };
    return { pairs: pairs.filter((pair) => "value" in pair) };
  }

  async prewrite(request: PrewriteRequest) {
    const { result } = await this.harness.run(
      (reader, txn) => prewrite(reader, txn, { ...request, commitTsFloor: this.harness.commitTsFloor }),
      (outcome) => outcome.errors.length > 0,
    );
    return result;
  }

  async commit(keys: readonly Uint8Array[], startTs: bigint, commitTs: bigint) {
    const { result } = await this.harness.run(
      (reader, txn) => commit(reader, txn, { keys, startTs, commitTs }),
      (error) => error !== undefined,
    );
    return result;
  }

  async batchRollback(keys: readonly Uint8Array[], startTs: bigint) {
    const { result } = await this.harness.run(
      (reader, txn) => batchRollback(reader, txn, keys, startTs),
      (error) => error !== undefined,
    );
    return result;
  }

  async pessimisticLock(request: PessimisticLockRequest) {
    const { result } = await this.harness.run(
      (reader, txn) => pessimisticLock(reader, txn, request),
      (outcome) => outcome.kind === "error",
    );
    return result;
  }

  async pessimisticRollback(keys: readonly Uint8Array[], startTs: bigint, forUpdateTs: bigint) {
    await this.harness.run(
      (reader, txn) => pessimisticRollback(reader, txn, keys, startTs, forUpdateTs),
      () => false,
    );
  }

  async txnHeartBeat(primary: Uint8Array, startTs: bigint, adviseTtlMs: bigint) {
    const { result } = await this.harness.run(
      (reader, txn) => txnHeartBeat(reader, txn, primary, startTs, adviseTtlMs),
      (outcome) => "error" in outcome,
    );
    return result;
  }

  async checkTxnStatus(params: CheckTxnStatusParams) {
    // A reader's call may push min_commit_ts above its start_ts: the store raises max_ts with it first.
    this.harness.observeReadTs(params.callerStartTs);
    const { result } = await this.harness.run(
      (reader, txn) => checkTxnStatus(reader, txn, params),
      (outcome) => outcome.kind === "error",
    );
    return result;
  }

  async checkSecondaryLocks(keys: readonly Uint8Array[], startTs: bigint) {
    const { result } = await this.harness.run(
      (reader, txn) => checkSecondaryLocks(reader, txn, keys, startTs),
      () => false,
    );
    return result;
  }

  async commitLocks(keys: readonly Uint8Array[], startTs: bigint, commitTs: bigint) {
    const { result } = await this.harness.run(
      async (reader, txn) => {
        const locks = [];
        for (const key of keys) {
          const lock = await reader.loadLock(key);
          if (lock !== undefined) locks.push({ key, lock });
        }
        return resolveLocks(reader, txn, locks, new Map([[startTs, commitTs]]));
      },
      (error) => error !== undefined,
    );
    return result;
  }

  scanLocks(range: KeyRange) {
    return scanLocks(this.harness.storage, range, () => true, Number.MAX_SAFE_INTEGER);
  }

  private snapshot(read: ReadOptions): SnapshotReader {
    this.harness.observeReadTs(read.readTs);
    return new SnapshotReader(this.harness.storage, read);
  }
}
