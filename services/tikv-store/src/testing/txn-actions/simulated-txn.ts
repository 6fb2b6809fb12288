/**
 * One client transaction of the model-based test, advanced one request at a time so a scheduler can
 * interleave many: begin at a fresh timestamp, read at start_ts (resolving the locks it meets), buffer
 * writes (locking them first when pessimistic), then commit by 2PC (prewrite each key as its own request,
 * as if every key lived in its own region, commit the primary, then the secondaries), async commit
 * (committed once every key is prewritten) or 1PC. It gives up after too many waits, rolling back what it
 * wrote; it may also crash between any two requests, leaving its locks to other clients' resolvers.
 */
import { compareBytes, physicalMsOf } from "#codec";
import type { Random } from "#runtime";
import type { KeyError } from "../../mvcc/key-error.ts";
import type { ReadOptions } from "../../mvcc/snapshot-reader.ts";
import type { TxnMutation } from "../../txn/actions/prewrite.ts";
import type { LockResolver } from "./lock-resolver.ts";
import type { KeyRange, PrewriteRequest, ScanRange, TimestampOracle, TxnRequests } from "./txn-requests.ts";

export type CommitProtocol = "2pc" | "async" | "1pc";

export type TxnOperation =
  | { readonly kind: "get"; readonly key: Uint8Array }
  | { readonly kind: "scan"; readonly reverse: boolean }
  | { readonly kind: "put"; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly kind: "delete"; readonly key: Uint8Array };

export interface TxnPlan {
  readonly name: string;
  readonly protocol: CommitProtocol;
  readonly pessimistic: boolean;
  readonly operations: readonly TxnOperation[];
  readonly lockTtlMs: bigint;
}

export interface ObservedRead {
  readonly txn: string;
  readonly readTs: bigint;
  readonly hexKey: string;
  readonly value: Uint8Array | undefined;
}

/** What a transaction's requests share: the store, the TSO, the resolver, the keys a scan can see. */
export interface TxnEnvironment {
  readonly requests: TxnRequests;
  readonly tso: TimestampOracle;
  readonly resolver: LockResolver;
  readonly random: Random;
  readonly trace: string[];
  /** Every key of the workload... */
  readonly keys: readonly Uint8Array[];
  /** ...and the range scans cover, which holds them and no others. */
  readonly scanRange: KeyRange;
}

/** The client saw something the protocol rules out (a secondary of a committed transaction failing). */
export class ClientInvariantError extends Error {
  override readonly name = "ClientInvariantError";
}

export type TxnState = "running" | "finished" | "aborted" | "crashed";

type Phase =
  | { readonly kind: "begin" }
  | { readonly kind: "operate"; readonly index: number }
  | { readonly kind: "prewrite"; readonly pending: Uint8Array[] }
  | { readonly kind: "one-pc" }
  | { readonly kind: "commit-primary" }
  | { readonly kind: "commit-rest"; readonly pending: Uint8Array[] }
  | { readonly kind: "rollback" };

/** Waits on one step before the client gives up and rolls back. */
const MAX_ATTEMPTS = 8;
/** A heartbeat makes the primary's TTL this many times the planned one. */
const HEARTBEAT_TTL_FACTOR = 4n;
const SCAN_LIMIT = 1000;
const hex = (key: Uint8Array) => Buffer.from(key).toString("hex");

export class SimulatedTxn {
  state: TxnState = "running";
  startTs = 0n;
  /** Set at the commit point: the primary's commit (2PC), the last prewrite (async commit), 1PC. */
  committedAt: bigint | undefined;
  readonly reads: ObservedRead[] = [];
  /** Hex key → the key and its buffered value (undefined: delete), in the order first written. */
  readonly writes = new Map<string, { readonly key: Uint8Array; readonly value: Uint8Array | undefined }>();
  private readonly pessimisticLocked = new Set<string>();
  private readonly resolvedLocks = new Set<bigint>();
  private phase: Phase = { kind: "begin" };
  private attempts = 0;
  private heartbeats = false;
  private primary: Uint8Array | undefined;
  private commitTs = 0n;

  constructor(
    readonly plan: TxnPlan,
    private readonly env: TxnEnvironment,
  ) {}

  get done(): boolean {
    return this.state !== "running";
  }

  /** How many times the current step met a lock it had to wait for (a client backs off accordingly). */
  get waits(): number {
    return this.attempts;
  }

  /** Physical ms after which no lock of this transaction is alive any more (none before it began). */
  get locksExpireAtMs(): bigint {
    const factor = this.heartbeats ? HEARTBEAT_TTL_FACTOR : 1n;
    return this.startTs === 0n ? 0n : physicalMsOf(this.startTs) + this.plan.lockTtlMs * factor;
  }

  crash(): void {
    this.log("crashes");
    this.state = "crashed";
  }

  /** One request (or none, for a step served from the write buffer). */
  async step(): Promise<void> {
    switch (this.phase.kind) {
      case "begin":
        this.startTs = await this.env.tso.getTimestamp();
        this.log(`begins at ${this.startTs}`);
        return this.advance({ kind: "operate", index: 0 });
      case "operate":
        return this.operate(this.phase.index);
      case "prewrite":
        return this.prewriteNext(this.phase.pending);
      case "one-pc":
        return this.onePc();
      case "commit-primary":
        return this.commitPrimary();
      case "commit-rest":
        return this.commitNext(this.phase.pending);
      case "rollback":
        return this.rollback();
      default:
        return this.phase satisfies never;
    }
  }

  /** Keeps a live transaction's primary lock alive, as the client's TTL manager does. */
  async heartbeat(): Promise<void> {
    if (this.primary === undefined || this.committedAt !== undefined) return;
    this.heartbeats = true;
    await this.env.requests.txnHeartBeat(
      this.primary,
      this.startTs,
      this.plan.lockTtlMs * HEARTBEAT_TTL_FACTOR,
    );
  }

  private advance(phase: Phase): void {
    this.phase = phase;
    this.attempts = 0;
  }

  private log(event: string): void {
    this.env.trace.push(`${this.plan.name}: ${event}`);
  }

  private async operate(index: number): Promise<void> {
    const operation = this.plan.operations[index];
    if (operation === undefined) return this.finishOperations();
    const next: Phase = { kind: "operate", index: index + 1 };
    switch (operation.kind) {
      case "get":
        if (this.writes.has(hex(operation.key)) || (await this.get(operation.key))) this.advance(next);
        return;
      case "scan":
        if (await this.scan(operation.reverse)) this.advance(next);
        return;
      case "put":
      case "delete":
        if (await this.write(operation.key, operation.kind === "put" ? operation.value : undefined)) {
          this.advance(next);
        }
        return;
      default:
        return operation satisfies never;
    }
  }

  private readOptions(): ReadOptions {
    return { readTs: this.startTs, resolvedLocks: this.resolvedLocks };
  }

  private async get(key: Uint8Array): Promise<boolean> {
    const result = await this.env.requests.get(key, this.readOptions());
    if ("error" in result) return this.blocked(result.error, this.startTs);
    this.record(key, result.value);
    return true;
  }

  private async scan(reverse: boolean): Promise<boolean> {
    const range: ScanRange = { ...this.env.scanRange, reverse, limit: SCAN_LIMIT };
    const result = await this.env.requests.scan(range, this.readOptions());
    if ("error" in result) return this.blocked(result.error, this.startTs);
    this.log(`scans ${result.pairs.length} keys`);
    // A key the scan left out is a read of "absent", to be checked like any other.
    const found = new Map(result.pairs.map((pair) => [hex(pair.key), pair.value]));
    for (const key of this.env.keys) this.record(key, found.get(hex(key)));
    return true;
  }

  private record(key: Uint8Array, value: Uint8Array | undefined): void {
    if (this.writes.has(hex(key))) return;
    this.reads.push({ txn: this.plan.name, readTs: this.startTs, hexKey: hex(key), value });
  }

  private async write(key: Uint8Array, value: Uint8Array | undefined): Promise<boolean> {
    this.primary ??= key;
    if (this.plan.pessimistic && !this.pessimisticLocked.has(hex(key))) {
      const result = await this.env.requests.pessimisticLock({
        keys: [{ key, shouldNotExist: false }],
        primary: this.primary,
        startTs: this.startTs,
        forUpdateTs: this.startTs,
        lockTtlMs: this.plan.lockTtlMs,
        minCommitTs: 0n,
        returnValues: false,
        isFirstLock: this.pessimisticLocked.size === 0,
      });
      if (result.kind === "error") return this.blocked(result.error, 0n);
      this.pessimisticLocked.add(hex(key));
    }
    this.writes.set(hex(key), { key, value });
    return true;
  }

  /**
   * A request met a lock (resolve it, then try again) or failed for good (abort). Returns false: the step
   * is not done.
   */
  private async blocked(error: KeyError, readerTs: bigint): Promise<boolean> {
    if (error.kind !== "locked") {
      this.log(`fails: ${error.kind === "abort" ? `abort (${error.reason})` : error.kind}`);
      this.abort();
      return false;
    }
    const outcome = await this.env.resolver.resolve(error.key, error.lock, readerTs);
    this.log(`meets the lock of ${error.lock.startTs} on ${hex(error.key)}: ${outcome}`);
    if (outcome === "read-past") this.resolvedLocks.add(error.lock.startTs);
    if (++this.attempts > MAX_ATTEMPTS) this.abort();
    return false;
  }

  private abort(): void {
    this.phase = { kind: "rollback" };
  }

  private finishOperations(): void {
    if (this.writes.size === 0) {
      this.state = "finished";
      return;
    }
    const keys = this.writtenKeys();
    this.advance(
      this.plan.protocol === "1pc"
        ? { kind: "one-pc" }
        : { kind: "prewrite", pending: this.env.random.shuffle(keys) },
    );
  }

  private writtenKeys(): Uint8Array[] {
    return [...this.writes.values()].map((write) => write.key);
  }

  private mutation(key: Uint8Array): TxnMutation {
    const value = this.writes.get(hex(key))!.value;
    return value === undefined ? { op: "delete", key, value: new Uint8Array(0) } : { op: "put", key, value };
  }

  private prewriteRequest(keys: readonly Uint8Array[], tryOnePc: boolean): PrewriteRequest {
    const primary = this.primary!;
    const useAsyncCommit = this.plan.protocol === "async";
    return {
      mutations: keys.map((key) => this.mutation(key)),
      primary,
      startTs: this.startTs,
      lockTtlMs: this.plan.lockTtlMs,
      txnSize: BigInt(this.writes.size),
      forUpdateTs: this.plan.pessimistic ? this.startTs : 0n,
      isPessimisticLock: keys.map(() => this.plan.pessimistic),
      minCommitTs: 0n,
      useAsyncCommit,
      // Only an async-commit primary records its secondaries; a store refuses them on any other prewrite.
      secondaries: useAsyncCommit ? this.writtenKeys().filter((key) => compareBytes(key, primary) !== 0) : [],
      tryOnePc,
      maxCommitTs: 0n,
      skipConstraintCheck: false,
    };
  }

  private async prewriteNext(pending: Uint8Array[]): Promise<void> {
    const key = pending[0]!;
    const result = await this.env.requests.prewrite(this.prewriteRequest([key], false));
    const [error] = result.errors;
    if (error !== undefined) {
      await this.blocked(error, 0n);
      return;
    }
    this.log(`prewrites ${hex(key)}`);
    if (result.minCommitTs > this.commitTs) this.commitTs = result.minCommitTs;
    pending.shift();
    if (pending.length > 0) return;
    if (this.plan.protocol === "2pc") return this.advance({ kind: "commit-primary" });
    // Async commit: every key is prewritten, the transaction is committed at the largest min_commit_ts.
    this.committed(this.commitTs);
    this.advance({ kind: "commit-rest", pending: this.writtenKeys() });
  }

  private async onePc(): Promise<void> {
    const result = await this.env.requests.prewrite(this.prewriteRequest(this.writtenKeys(), true));
    const [error] = result.errors;
    if (error !== undefined) {
      await this.blocked(error, 0n);
      return;
    }
    this.committed(result.onePcCommitTs);
    this.state = "finished";
  }

  private committed(commitTs: bigint): void {
    this.committedAt = commitTs;
    this.log(`commits at ${commitTs}`);
  }

  private async commitPrimary(): Promise<void> {
    if (this.commitTs === 0n) {
      // Getting commit_ts from the TSO is a request of its own: readers may push the primary meanwhile.
      this.commitTs = await this.env.tso.getTimestamp();
      return;
    }
    const primary = this.primary!;
    const error = await this.env.requests.commit([primary], this.startTs, this.commitTs);
    if (error?.kind === "commit-ts-expired") {
      // A reader pushed the primary: commit again at a newer timestamp.
      this.log(`commit at ${this.commitTs} expired (min_commit_ts ${error.minCommitTs})`);
      this.commitTs = 0n;
      return;
    }
    if (error !== undefined) {
      this.log(`primary commit fails: ${error.kind}`);
      return this.abort();
    }
    this.committed(this.commitTs);
    const rest = this.writtenKeys().filter((key) => compareBytes(key, primary) !== 0);
    this.advance({ kind: "commit-rest", pending: rest });
  }

  private async commitNext(pending: Uint8Array[]): Promise<void> {
    const key = pending.shift();
    if (key === undefined) {
      this.state = "finished";
      return;
    }
    const error = await this.env.requests.commit([key], this.startTs, this.committedAt!);
    if (error !== undefined) {
      throw new ClientInvariantError(
        `${this.plan.name}: committing ${hex(key)} after the commit point: ${error.kind}`,
      );
    }
  }

  private async rollback(): Promise<void> {
    const keys = [...new Set([...this.writes.keys(), ...this.pessimisticLocked])].map((key) =>
      Buffer.from(key, "hex"),
    );
    // A transaction that locked and wrote nothing has nothing to roll back (a store refuses empty batches).
    const error = keys.length === 0 ? undefined : await this.env.requests.batchRollback(keys, this.startTs);
    if (error !== undefined) {
      throw new ClientInvariantError(
        `${this.plan.name}: rolling back before its commit point: ${error.kind}`,
      );
    }
    this.log("rolls back");
    this.state = "aborted";
  }
}
