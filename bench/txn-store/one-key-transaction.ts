/**
 * One Percolator transaction writing one key, straight over the store's RPCs (there is no transaction
 * client yet): start_ts from pd's TSO, KvPrewrite of the key as its own primary to its region's leader,
 * commit_ts from the TSO, KvCommit. Two TSO round trips and two raft writes, against one raft write for a
 * raw put. Every step that fails throws with the step named; a key error (the store refusing the
 * transaction: locked, conflict, ...) throws TxnKeyError, which in a fresh-key benchmark is a bug.
 */
import { COMMIT_BUDGET_MS, GET_BUDGET_MS, PREWRITE_BUDGET_MS } from "#client";
import { kvrpcpb } from "#proto";
import type { StoreClient } from "./store-client.ts";

/** The lock's time to live: how long a reader waits for this transaction before it may resolve the lock. */
export const LOCK_TTL_MS = 3000n;

export type TxnStep = "tso start_ts" | "prewrite" | "tso commit_ts" | "commit" | "get";

/** The store answered a key error: it refused the transaction (or the read) on this key. */
export class TxnKeyError extends Error {
  readonly kind: string;

  constructor(
    readonly step: TxnStep,
    readonly key: Uint8Array,
    readonly startTs: bigint,
    readonly keyError: kvrpcpb.KeyError,
  ) {
    const { kind, detail } = describeKeyError(keyError);
    const tsName = step === "get" ? "read_ts" : "start_ts";
    super(`${step} of key ${hex(key)} (${tsName} ${startTs}) got key error ${kind}: ${detail}`);
    this.name = "TxnKeyError";
    this.kind = kind;
  }
}

/** A step failed without an answer from the store (TSO, routing, RPC or backoff failure). */
export class TxnStepError extends Error {
  constructor(
    readonly step: TxnStep,
    readonly key: Uint8Array,
    readonly startTs: bigint | undefined,
    override readonly cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const tsName = step === "get" ? "read_ts" : "start_ts";
    super(`${step} of key ${hex(key)} (${tsName} ${startTs ?? "none"}) failed: ${reason}`, { cause });
    this.name = "TxnStepError";
  }
}

/** Sees how long each step that succeeded took. */
export type StepObserver = (step: TxnStep, elapsedMs: number) => void;

export interface CommittedTxn {
  readonly startTs: bigint;
  readonly commitTs: bigint;
}

/** Writes `value` at `key` in one transaction; resolves once the commit is acknowledged. */
export async function commitOneKey(
  client: StoreClient,
  key: Uint8Array,
  value: Uint8Array,
  observer?: StepObserver,
): Promise<CommittedTxn> {
  const step = timedStep(observer);
  const startTs = await step("tso start_ts", key, undefined, () => client.pd.getTimestamp());
  const prewrite = await step("prewrite", key, startTs, () =>
    client.sendToKey(
      key,
      "prewrite",
      (context) =>
        kvrpcpb.PrewriteRequest.fromPartial({
          context,
          mutations: [{ op: kvrpcpb.Op.PUT, key, value }],
          primaryLock: key,
          startTs,
          lockTtlMs: LOCK_TTL_MS,
          txnSize: 1n,
        }),
      client.newRetry(PREWRITE_BUDGET_MS),
    ),
  );
  const prewriteError = prewrite.errors[0];
  if (prewriteError !== undefined) throw new TxnKeyError("prewrite", key, startTs, prewriteError);
  const commitTs = await step("tso commit_ts", key, startTs, () => client.pd.getTimestamp());
  const commit = await step("commit", key, startTs, () =>
    client.sendToKey(
      key,
      "commit",
      (context) => ({ context, startTs, keys: [key], commitTs }),
      client.newRetry(COMMIT_BUDGET_MS),
    ),
  );
  if (commit.error !== undefined) throw new TxnKeyError("commit", key, startTs, commit.error);
  return { startTs, commitTs };
}

/** The value committed at `key` as of `readTs` (KvGet on the leader), undefined when there is none. */
export async function readCommitted(
  client: StoreClient,
  key: Uint8Array,
  readTs: bigint,
): Promise<Uint8Array | undefined> {
  const response = await timedStep()("get", key, readTs, () =>
    client.sendToKey(
      key,
      "get",
      (context) => kvrpcpb.GetRequest.fromPartial({ context, key, readTs }),
      client.newRetry(GET_BUDGET_MS),
    ),
  );
  if (response.error !== undefined) throw new TxnKeyError("get", key, readTs, response.error);
  return response.notFound ? undefined : response.value;
}

/** Runs steps, naming the step in any failure and reporting each success's time to `observer`. */
function timedStep(observer?: StepObserver) {
  return async <T>(
    name: TxnStep,
    key: Uint8Array,
    startTs: bigint | undefined,
    body: () => Promise<T>,
  ): Promise<T> => {
    const startedMs = performance.now();
    let result: T;
    try {
      result = await body();
    } catch (error) {
      throw new TxnStepError(name, key, startTs, error);
    }
    observer?.(name, performance.now() - startedMs);
    return result;
  };
}

/** The key error's kind (the field that is set) and what it says. */
function describeKeyError(error: kvrpcpb.KeyError): { kind: string; detail: string } {
  if (error.locked !== undefined) {
    const lock = error.locked;
    return {
      kind: "locked",
      detail: `by start_ts ${lock.lockTs}, primary ${hex(lock.primaryLock)}, ttl ${lock.lockTtlMs} ms`,
    };
  }
  if (error.conflict !== undefined) {
    return { kind: "write conflict", detail: JSON.stringify(error.conflict, jsonBigint) };
  }
  if (error.retryable !== "") return { kind: "retryable", detail: error.retryable };
  if (error.abort !== "") return { kind: "abort", detail: error.abort };
  for (const kind of [
    "alreadyExist",
    "deadlock",
    "commitTsExpired",
    "txnNotFound",
    "commitTsTooLarge",
  ] as const) {
    if (error[kind] !== undefined) return { kind, detail: JSON.stringify(error[kind], jsonBigint) };
  }
  return { kind: "empty", detail: "a key error with no field set" };
}

function jsonBigint(_name: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return hex(value);
  return value;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}
