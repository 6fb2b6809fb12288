/**
 * Reads at one timestamp (snapshot isolation): get, batch get (regions in parallel), and scans across
 * regions in either direction. A lock that may hide a version below the read timestamp is handed to the
 * lock resolver; the read goes on once the lock is resolved, or past it when the resolver pushed its
 * transaction above the read (those transactions ride along in every later request's `resolved_locks`),
 * and otherwise after a backoff (txnLockFast) bounded by the read's budget.
 */
import { kvrpcpb } from "#proto";
import { BackoffKinds } from "../backoff/backoff-kind.ts";
import { keyHex, successorKey } from "../raw/key-range.ts";
import { FORWARD, REVERSE, type ScanRange } from "../raw/region-scan.ts";
import type { KeyLocation } from "../region-cache/key-location.ts";
import { RegionRetry } from "../rpc/region-retry.ts";
import type { LockResolver } from "./lock-resolver.ts";
import { sendByRegion, sendToKey } from "./region-requests.ts";
import { TxnArgumentError, UnexpectedKeyError } from "./txn-errors.ts";
import type { TxnParts } from "./txn-parts.ts";

export interface KvPair {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export interface SnapshotScanOptions {
  readonly reverse?: boolean;
  readonly keyOnly?: boolean;
}

/** The lock a read met. */
class LockedKey extends Error {
  constructor(readonly lock: kvrpcpb.LockInfo) {
    super(`key ${keyHex(lock.key)} is locked by transaction ${lock.lockTs}`);
  }
}

export class Snapshot {
  /** Transactions whose locks this snapshot reads past. */
  private readonly readPast = new Set<bigint>();

  constructor(
    private readonly parts: TxnParts,
    private readonly resolver: LockResolver,
    readonly readTs: bigint,
  ) {}

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    checkKey(key);
    const retry = this.newRetry();
    for (;;) {
      const response = await sendToKey(
        this.parts,
        key,
        "get",
        (context) =>
          kvrpcpb.GetRequest.fromPartial({ context: this.context(context), key, readTs: this.readTs }),
        retry,
      );
      if (response.error === undefined) return response.notFound ? undefined : response.value;
      await this.onKeyError(response.error, retry);
    }
  }

  /** Values of the present keys, by hex key; regions are read in parallel. */
  async batchGet(keys: readonly Uint8Array[]): Promise<Map<string, Uint8Array>> {
    keys.forEach(checkKey);
    const found = new Map<string, Uint8Array>();
    let pending = [...new Map(keys.map((key) => [keyHex(key), key])).values()];
    const retry = this.newRetry();
    while (pending.length > 0) {
      const locked: kvrpcpb.LockInfo[] = [];
      const done = new Set<string>();
      await sendByRegion(
        this.parts,
        {
          items: pending,
          keyOf: (key) => key,
          sizeOf: (key) => key.length,
          send: async (location, batch, subRetry) => {
            const build = (context: kvrpcpb.Context) =>
              kvrpcpb.BatchGetRequest.fromPartial({
                context: this.context(context),
                keys: [...batch],
                readTs: this.readTs,
              });
            const result = await this.parts.sender.send(location, "batchGet", build, subRetry);
            if (result.kind === "relocate") return false;
            if (result.response.error !== undefined) {
              const lock = lockOf(result.response.error);
              if (lock === undefined) throw keyErrorOf(result.response.error);
              locked.push(lock);
              return true;
            }
            const lockedHere = new Set<string>();
            for (const pair of result.response.pairs) {
              if (pair.error === undefined) {
                found.set(keyHex(pair.key), pair.value);
                continue;
              }
              const lock = lockOf(pair.error);
              if (lock === undefined) throw keyErrorOf(pair.error);
              locked.push(lock);
              lockedHere.add(keyHex(pair.key));
            }
            for (const key of batch) if (!lockedHere.has(keyHex(key))) done.add(keyHex(key));
            return true;
          },
        },
        retry,
      );
      if (locked.length === 0) return found;
      await this.resolve(locked, retry);
      // Locked keys are read again, and so is every key of a batch answered with one key error (a memory
      // lock of a prewrite in flight), which left the batch unread.
      pending = pending.filter((key) => !done.has(keyHex(key)));
    }
    return found;
  }

  /**
   * Up to `limit` pairs of [startKey, endKey) (empty end = unbounded), ascending, or descending with
   * `reverse`; regions are read one after another.
   */
  async scan(
    startKey: Uint8Array,
    endKey: Uint8Array,
    limit: number,
    options: SnapshotScanOptions = {},
  ): Promise<KvPair[]> {
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new TxnArgumentError(`scan limit must be a positive integer, got ${limit}`);
    const range: ScanRange = { startKey, endKey };
    const direction = options.reverse ? REVERSE : FORWARD;
    const pairs: KvPair[] = [];
    const retry = this.newRetry();
    let position = direction.origin(range);
    while (pairs.length < limit) {
      const location = await direction.locate(this.parts, position, retry);
      const pageLimit = Math.min(limit - pairs.length, this.parts.settings.scanPageSize);
      const page = await this.scanPage(location, range, position, pageLimit, options, retry);
      if (page === "relocate") continue;
      pairs.push(...page.pairs);
      if (page.locked !== undefined) {
        await this.resolve([page.locked], retry);
        // Read again from the locked key: forward it is the inclusive start, in reverse the exclusive end.
        position = options.reverse ? successorKey(page.locked.key) : page.locked.key;
        continue;
      }
      if (page.pairs.length === pageLimit) position = direction.afterPage(page.pairs.at(-1)!.key);
      else if (direction.coversRest(location, range)) break;
      else position = direction.nextRegion(location);
    }
    return pairs;
  }

  private async scanPage(
    location: KeyLocation,
    range: ScanRange,
    position: Uint8Array,
    pageLimit: number,
    options: SnapshotScanOptions,
    retry: RegionRetry,
  ): Promise<{ readonly pairs: KvPair[]; readonly locked: kvrpcpb.LockInfo | undefined } | "relocate"> {
    const direction = options.reverse ? REVERSE : FORWARD;
    const build = (context: kvrpcpb.Context) =>
      kvrpcpb.ScanRequest.fromPartial({
        context: this.context(context),
        startKey: position,
        endKey: direction.pageEnd(range, location),
        limit: pageLimit,
        readTs: this.readTs,
        keyOnly: options.keyOnly ?? false,
        reverse: options.reverse ?? false,
      });
    const result = await this.parts.sender.send(location, "scan", build, retry);
    if (result.kind === "relocate") return "relocate";
    if (result.response.error !== undefined) {
      const lock = lockOf(result.response.error);
      if (lock === undefined) throw keyErrorOf(result.response.error);
      return { pairs: [], locked: lock };
    }
    const pairs: KvPair[] = [];
    for (const pair of result.response.pairs) {
      if (pair.error !== undefined) {
        const lock = lockOf(pair.error);
        if (lock === undefined) throw keyErrorOf(pair.error);
        return { pairs, locked: lock };
      }
      pairs.push({ key: pair.key, value: pair.value });
    }
    return { pairs, locked: undefined };
  }

  private async onKeyError(error: kvrpcpb.KeyError, retry: RegionRetry): Promise<void> {
    const lock = lockOf(error);
    if (lock === undefined) throw keyErrorOf(error);
    await this.resolve([lock], retry);
  }

  private async resolve(locks: readonly kvrpcpb.LockInfo[], retry: RegionRetry): Promise<void> {
    const result = await this.resolver.resolve(locks, this.readTs, retry);
    for (const startTs of result.readPast) this.readPast.add(startTs);
    if (result.msBeforeExpired > 0) {
      await retry.backoff(BackoffKinds.txnLockFast, new LockedKey(locks[0]!));
    }
  }

  private context(context: kvrpcpb.Context): kvrpcpb.Context {
    return this.readPast.size === 0 ? context : { ...context, resolvedLocks: [...this.readPast] };
  }

  private newRetry(): RegionRetry {
    return new RegionRetry(this.parts.newBackoffer(this.parts.settings.readBudgetMs));
  }
}

function checkKey(key: Uint8Array): void {
  if (key.length === 0) throw new TxnArgumentError("keys must not be empty");
}

function lockOf(error: kvrpcpb.KeyError): kvrpcpb.LockInfo | undefined {
  return error.locked;
}

function keyErrorOf(error: kvrpcpb.KeyError): Error {
  return new UnexpectedKeyError(`read failed`, error);
}
