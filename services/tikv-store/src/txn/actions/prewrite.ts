/**
 * Prewrite: the first phase of two-phase commit. Every key gets a lock of the transaction (and its value,
 * inline when short or in the default column family), after checking nothing committed since the
 * transaction read and no other transaction holds the key. With 1PC the same checks lead straight to
 * commit records at the commit timestamp, with no locks left behind.
 *
 * All or nothing: when any key fails, the command writes nothing. Locks of other transactions are
 * collected for every key (so the client resolves them together); any other error ends the prewrite.
 */
import type { KeyError } from "../../mvcc/key-error.ts";
import type { LockRecord, LockType } from "../../mvcc/lock-record.ts";
import { type MvccReader, TS_MAX } from "../../mvcc/mvcc-reader.ts";
import type { MvccTxn } from "../../mvcc/mvcc-txn.ts";
import { SHORT_VALUE_MAX_BYTES, type WriteType } from "../../mvcc/write-record.ts";
import { conflictError, newerVersionConflict, newerVersions } from "./write-conflict.ts";

export type MutationOp = "put" | "delete" | "lock" | "insert" | "check-not-exists";

export interface TxnMutation {
  readonly op: MutationOp;
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export interface PrewriteParams {
  readonly mutations: readonly TxnMutation[];
  readonly primary: Uint8Array;
  readonly startTs: bigint;
  readonly lockTtlMs: bigint;
  readonly txnSize: bigint;
  /** 0 for an optimistic transaction. */
  readonly forUpdateTs: bigint;
  /** One per mutation for a pessimistic transaction: the key holds (or held) our pessimistic lock. */
  readonly isPessimisticLock: readonly boolean[];
  readonly minCommitTs: bigint;
  readonly useAsyncCommit: boolean;
  readonly secondaries: readonly Uint8Array[];
  readonly tryOnePc: boolean;
  readonly maxCommitTs: bigint;
  readonly skipConstraintCheck: boolean;
  /**
   * For async commit and 1PC: the lowest commit_ts that is above every read this store served of these
   * keys (max_ts + 1), computed by the scheduler after it published the keys in the memory lock table.
   */
  readonly commitTsFloor: bigint;
}

export interface PrewriteResult {
  readonly errors: readonly KeyError[];
  /** Async commit: the transaction's commit_ts must be at least this. 0 otherwise. */
  readonly minCommitTs: bigint;
  /** 1PC: the transaction committed at this timestamp. 0 otherwise. */
  readonly onePcCommitTs: bigint;
}

export async function prewrite(
  reader: MvccReader,
  txn: MvccTxn,
  params: PrewriteParams,
): Promise<PrewriteResult> {
  const asyncOrOnePc = params.useAsyncCommit || params.tryOnePc;
  const locked: KeyError[] = [];
  const writes: KeyWrite[] = [];
  let commitTs = asyncOrOnePc ? commitTsFor(params) : 0n;
  let prewrittenMinCommitTs = 0n;
  let committedAt: bigint | undefined;
  for (const [index, mutation] of params.mutations.entries()) {
    const expectsPessimisticLock = params.forUpdateTs > 0n && (params.isPessimisticLock[index] ?? false);
    const outcome = await checkKey(reader, params, mutation, expectsPessimisticLock);
    if (outcome.kind === "error") {
      if (outcome.error.kind !== "locked") return failed([outcome.error]);
      locked.push(outcome.error);
    } else if (outcome.kind === "write") {
      writes.push(outcome);
      // A reader pushed our pessimistic lock's min_commit_ts to read past the transaction: committing
      // below it would slip a version under that reader's snapshot.
      if (asyncOrOnePc && (outcome.pessimisticLock?.minCommitTs ?? 0n) > commitTs) {
        commitTs = outcome.pessimisticLock!.minCommitTs;
      }
    } else if (outcome.kind === "already-prewritten" && outcome.minCommitTs > prewrittenMinCommitTs) {
      prewrittenMinCommitTs = outcome.minCommitTs;
    } else if (outcome.kind === "already-committed") {
      committedAt = outcome.commitTs;
    }
  }
  if (locked.length > 0) return failed(locked);
  // A retry of a prewrite whose transaction has committed (by its client or a resolver): everything was
  // written long ago, and the caller must learn the real commit_ts, not one computed now.
  if (committedAt !== undefined) return succeeded(params, committedAt);
  // An async-commit transaction commits at the largest min_commit_ts of its locks, which is also what a
  // resolver computes from them: a retry that writes no lock must answer with the locks' value, never a
  // newer one, or the client and a resolver would commit the keys at different timestamps.
  if (writes.length === 0 && prewrittenMinCommitTs > 0n) return succeeded(params, prewrittenMinCommitTs);
  if (asyncOrOnePc && params.maxCommitTs > 0n && commitTs > params.maxCommitTs) {
    return failed([{ kind: "commit-ts-too-large", commitTs }]);
  }
  for (const write of writes) writeKey(txn, params, write, commitTs);
  return succeeded(params, commitTs > prewrittenMinCommitTs ? commitTs : prewrittenMinCommitTs);
}

function succeeded(params: PrewriteParams, commitTs: bigint): PrewriteResult {
  return {
    errors: [],
    minCommitTs: params.useAsyncCommit && !params.tryOnePc ? commitTs : 0n,
    onePcCommitTs: params.tryOnePc ? commitTs : 0n,
  };
}

function failed(errors: readonly KeyError[]): PrewriteResult {
  return { errors, minCommitTs: 0n, onePcCommitTs: 0n };
}

function commitTsFor(params: PrewriteParams): bigint {
  let ts = params.startTs + 1n;
  for (const candidate of [params.forUpdateTs + 1n, params.minCommitTs, params.commitTsFloor]) {
    if (candidate > ts) ts = candidate;
  }
  return ts;
}

/** A key that passed its checks; what to write is decided once every key passed. */
interface KeyWrite {
  readonly kind: "write";
  readonly mutation: TxnMutation;
  readonly pessimisticLock: LockRecord | undefined;
}

type KeyOutcome =
  | KeyWrite
  | { readonly kind: "nothing-to-write" }
  | { readonly kind: "already-prewritten"; readonly minCommitTs: bigint }
  | { readonly kind: "already-committed"; readonly commitTs: bigint }
  | { readonly kind: "error"; readonly error: KeyError };

async function checkKey(
  reader: MvccReader,
  params: PrewriteParams,
  mutation: TxnMutation,
  expectsPessimisticLock: boolean,
): Promise<KeyOutcome> {
  const { key } = mutation;
  const existing = await reader.loadLock(key);
  let pessimisticLock: LockRecord | undefined;
  if (existing !== undefined) {
    if (existing.startTs !== params.startTs) {
      // A version committed since our snapshot dooms the transaction whatever becomes of this lock: say so
      // now rather than have the client wait out the lock (and, on a hot key, the next one) to learn it.
      if (!params.skipConstraintCheck && !expectsPessimisticLock) {
        const conflict = await newerVersionConflict(
          reader,
          key,
          params.primary,
          params.startTs,
          snapshotTsOf(params) + 1n,
        );
        if (conflict !== undefined) return { kind: "error", error: conflict };
      }
      return { kind: "error", error: { kind: "locked", key, lock: existing } };
    }
    if (existing.type !== "pessimistic") {
      // Our own prewrite lock: a retried request, nothing more to do.
      return { kind: "already-prewritten", minCommitTs: existing.minCommitTs };
    }
    // A pessimistic transaction may not know it holds this lock (its lock request timed out after the lock
    // was taken): the lock is ours either way, so the prewrite takes it over. An optimistic one never
    // takes pessimistic locks.
    if (!expectsPessimisticLock && params.forUpdateTs === 0n) {
      return {
        kind: "error",
        error: {
          kind: "abort",
          reason: `optimistic prewrite of ${params.startTs} met a pessimistic lock of its own transaction`,
        },
      };
    }
    pessimisticLock = existing;
  } else {
    // A version committed after the transaction's snapshot conflicts. One committed exactly at start_ts is
    // in the snapshot (reads take commit_ts <= read_ts): async commit and 1PC pick commit timestamps that
    // the TSO may also hand out as a later transaction's start_ts, so "at" must mean "seen", not "newer".
    const threshold = snapshotTsOf(params) + 1n;
    const { record, conflict } = await newerVersions(reader, key, params.startTs, threshold);
    if (record.kind === "committed") return { kind: "already-committed", commitTs: record.commitTs };
    if (record.kind === "rolled-back") {
      return {
        kind: "error",
        error: { kind: "abort", reason: `transaction ${params.startTs} was rolled back` },
      };
    }
    if (expectsPessimisticLock) {
      return {
        kind: "error",
        error: { kind: "abort", reason: `pessimistic lock not found for transaction ${params.startTs}` },
      };
    }
    // A key under our pessimistic lock was checked when the lock was taken; nothing can have committed
    // since. Without one, a version committed after the transaction read makes its write stale.
    if (conflict !== undefined && !params.skipConstraintCheck) {
      return { kind: "error", error: conflictError(key, params.primary, params.startTs, conflict) };
    }
  }
  if ((mutation.op === "insert" || mutation.op === "check-not-exists") && !params.skipConstraintCheck) {
    // Existence is decided by the newest version: the key is locked or conflict-checked already.
    const visible = await reader.visibleWrite(key, TS_MAX);
    if (visible?.write.type === "put") return { kind: "error", error: { kind: "already-exist", key } };
  }
  // CheckNotExists writes nothing; a pessimistic lock taken only for the check is released by commit or
  // rollback.
  if (mutation.op === "check-not-exists") return { kind: "nothing-to-write" };
  return { kind: "write", mutation, pessimisticLock };
}

function writeKey(txn: MvccTxn, params: PrewriteParams, write: KeyWrite, commitTs: bigint): void {
  const { mutation, pessimisticLock } = write;
  const { key } = mutation;
  const op = mutation.op as Exclude<MutationOp, "check-not-exists">;
  const isShort = mutation.value.length <= SHORT_VALUE_MAX_BYTES;
  const hasValue = op === "put" || op === "insert";
  if (hasValue && !isShort) txn.putValue(key, params.startTs, mutation.value);
  const shortValue = hasValue && isShort ? mutation.value : undefined;
  if (params.tryOnePc) {
    txn.putWrite(key, commitTs, {
      type: WRITE_TYPE[op],
      startTs: params.startTs,
      shortValue,
      hasOverlappedRollback: false,
    });
    if (pessimisticLock !== undefined) txn.unlockKey(key, pessimisticLock, commitTs);
    return;
  }
  const pushedMinCommitTs = pessimisticLock?.minCommitTs ?? 0n;
  const isPrimary = Buffer.compare(key, params.primary) === 0;
  txn.putLock(key, {
    type: LOCK_TYPE[op],
    primary: params.primary,
    startTs: params.startTs,
    ttlMs:
      pessimisticLock !== undefined && pessimisticLock.ttlMs > params.lockTtlMs
        ? pessimisticLock.ttlMs
        : params.lockTtlMs,
    shortValue,
    forUpdateTs: params.forUpdateTs,
    txnSize: params.txnSize,
    minCommitTs: params.useAsyncCommit
      ? commitTs
      : pushedMinCommitTs > params.minCommitTs
        ? pushedMinCommitTs
        : params.minCommitTs,
    useAsyncCommit: params.useAsyncCommit,
    secondaries: params.useAsyncCommit && isPrimary ? params.secondaries : [],
  });
}

const LOCK_TYPE: { readonly [Op in Exclude<MutationOp, "check-not-exists">]: LockType } = {
  put: "put",
  insert: "put",
  delete: "delete",
  lock: "lock",
};

const WRITE_TYPE: { readonly [Op in Exclude<MutationOp, "check-not-exists">]: WriteType } = {
  put: "put",
  insert: "put",
  delete: "delete",
  lock: "lock",
};

/** The timestamp the transaction's view of an unlocked key was taken at. */
function snapshotTsOf(params: PrewriteParams): bigint {
  return params.forUpdateTs > 0n ? params.forUpdateTs : params.startTs;
}
