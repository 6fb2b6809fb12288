/**
 * Checks every client request before it touches the raftstore: a request the store could never serve is
 * answered at once with an error naming the limit it broke, instead of costing a raft round trip or, worse,
 * an entry the log cannot hold.
 *
 * Kinds of refusal, following kvproto: a wrong store is a region error (StoreNotMatch: the client's store
 * address is stale and it must refresh); a value or batch too big for one raft entry is a region error
 * (RaftEntryTooLarge, as TiKV answers); everything else — no context, an empty or oversized key, a
 * reversed range, too many keys — is the client's bug and goes into the response's `error` text.
 */
import { compareBytes } from "#codec";
import type { kvrpcpb } from "#proto";
import { RaftEntryTooLargeError, StoreNotMatchError } from "../raftstore/region-errors.ts";

export interface RequestLimits {
  /** `server.max-key-size`. */
  readonly maxKeyBytes: number;
  /** `raftstore.raft-entry-max-size`: a value this large could not be written in one raft entry. */
  readonly maxEntryBytes: number;
  /** `server.max-batch-keys`. */
  readonly maxBatchKeys: number;
  /** `server.max-batch-size`: key plus value bytes of one batch. */
  readonly maxBatchBytes: number;
  /** `server.max-scan-limit`: scans asking for more (or for 0, "no limit") get this many. */
  readonly maxScanLimit: number;
}

/** The request is malformed or over a limit; its message is the answer's `error` text. */
export class InvalidRequestError extends Error {
  override readonly name = "InvalidRequestError";
}

/** Returns the context, checked to be present and addressed to this store. */
export function checkContext(context: kvrpcpb.Context | undefined, storeId: bigint): kvrpcpb.Context {
  if (context === undefined) {
    throw new InvalidRequestError(
      "the request has no context (region id, region epoch and peer are required)",
    );
  }
  const requestStoreId = context.peer?.storeId ?? 0n;
  // Zero means the client did not say; the raftstore still checks the peer against the region.
  if (requestStoreId !== 0n && requestStoreId !== storeId)
    throw new StoreNotMatchError(requestStoreId, storeId);
  return context;
}

export function checkKey(key: Uint8Array, limits: RequestLimits, what = "key"): void {
  if (key.length === 0) throw new InvalidRequestError(`${what} is empty`);
  if (key.length > limits.maxKeyBytes) {
    throw new InvalidRequestError(
      `${what} is ${key.length} bytes, over the limit of ${limits.maxKeyBytes} (server.max-key-size)`,
    );
  }
}

/**
 * A range [lower, upper): lower may be empty (from the region's start), an empty upper means unbounded;
 * a non-empty upper must not be below lower. Reverse scans name their bounds the other way round
 * (start_key is the exclusive upper bound), hence `reverse` for the message.
 */
export function checkRange(
  lowerKey: Uint8Array,
  upperKey: Uint8Array,
  limits: RequestLimits,
  options: { readonly reverse?: boolean } = {},
): void {
  const [lowerName, upperName] = options.reverse ? ["end key", "start key"] : ["start key", "end key"];
  checkBoundKey(lowerKey, limits, lowerName);
  checkBoundKey(upperKey, limits, upperName);
  if (upperKey.length > 0 && compareBytes(lowerKey, upperKey) > 0) {
    const shape = options.reverse
      ? "a reverse scan covers [end, start)"
      : "the range [start, end) must not be reversed";
    throw new InvalidRequestError(
      `${lowerName} ${hex(lowerKey)} is greater than ${upperName} ${hex(upperKey)}; ${shape}`,
    );
  }
}

/** Count and size of one batch request; returns its key plus value bytes. */
export function checkBatch(
  keys: readonly Uint8Array[],
  values: readonly Uint8Array[],
  limits: RequestLimits,
): number {
  if (keys.length === 0) throw new InvalidRequestError("the batch is empty");
  if (keys.length > limits.maxBatchKeys) {
    throw new InvalidRequestError(
      `the batch has ${keys.length} keys, over the limit of ${limits.maxBatchKeys} (server.max-batch-keys)`,
    );
  }
  let sizeBytes = 0;
  keys.forEach((key, index) => {
    checkKey(key, limits, `key ${index} of the batch`);
    sizeBytes += key.length;
  });
  for (const value of values) sizeBytes += value.length;
  if (sizeBytes > limits.maxBatchBytes) {
    throw new InvalidRequestError(
      `the batch holds ${sizeBytes} bytes of keys and values, over the limit of ${limits.maxBatchBytes} (server.max-batch-size)`,
    );
  }
  return sizeBytes;
}

/** A write of `sizeBytes` must fit one raft entry. */
export function checkEntrySize(sizeBytes: number, limits: RequestLimits, regionId: bigint): void {
  if (sizeBytes > limits.maxEntryBytes)
    throw new RaftEntryTooLargeError(regionId, sizeBytes, limits.maxEntryBytes);
}

/** The pairs a scan may return: 0 and anything above the server's bound become the bound. */
export function effectiveScanLimit(limit: number, limits: RequestLimits): number {
  return limit === 0 ? limits.maxScanLimit : Math.min(limit, limits.maxScanLimit);
}

/** Split keys: at least one, each a valid key, strictly ascending. */
export function checkSplitKeys(keys: readonly Uint8Array[], limits: RequestLimits): void {
  if (keys.length === 0) throw new InvalidRequestError("no split keys given");
  if (keys.length > limits.maxBatchKeys) {
    throw new InvalidRequestError(`${keys.length} split keys, over the limit of ${limits.maxBatchKeys}`);
  }
  keys.forEach((key, index) => {
    checkKey(key, limits, `split key ${index}`);
    if (index > 0 && compareBytes(keys[index - 1]!, key) >= 0) {
      throw new InvalidRequestError(`split keys must be strictly ascending; key ${index} is not`);
    }
  });
}

function checkBoundKey(key: Uint8Array, limits: RequestLimits, what: string): void {
  if (key.length > limits.maxKeyBytes) {
    throw new InvalidRequestError(
      `${what} is ${key.length} bytes, over the limit of ${limits.maxKeyBytes} (server.max-key-size)`,
    );
  }
}

function hex(key: Uint8Array): string {
  return key.length === 0
    ? "(empty)"
    : Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("hex");
}
