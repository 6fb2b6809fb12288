/**
 * The Tikv service over real gRPC with a stub store (an in-memory map behind the ServedStore interface):
 * every raw RPC, the validation that answers before the store is touched, region errors, and the
 * BatchCommands stream's id matching, concurrency and in-flight bound.
 */

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { type ClientDuplexStream, Server, ServerCredentials, type ServiceError, status } from "@grpc/grpc-js";
import { compareBytes } from "#codec";
import { createRegistry, MetricFactory } from "#observability";
import { kvrpcpb, metapb, tikvpb } from "#proto";
import { systemClock, systemTimers } from "#runtime";
import type { RawPair, RawScanOptions } from "../engine/kv-engine.ts";
import type { Modify } from "../mvcc/mvcc-txn.ts";
import { NotLeaderError } from "../raftstore/region-errors.ts";
import { MemoryMvccStorage } from "../testing/memory-mvcc-storage.ts";
import { RecordingSnapshotSink, TEST_MAX_MESSAGE_BYTES } from "../testing/recording-raft-server.ts";
import { silentLogger } from "../testing/silent-observability.ts";
import { waitFor } from "../testing/wait-for.ts";
import { ConcurrencyManager } from "../txn/concurrency-manager.ts";
import { Latches } from "../txn/latches.ts";
import { TxnScheduler } from "../txn/scheduler.ts";
import { createDetachedTxnMetrics } from "../txn/txn-metrics.ts";
import type { TxnStore } from "../txn/txn-store.ts";
import { createTikvClient } from "./grpc-options.ts";
import { RaftReceiver } from "./raft-receiver.ts";
import { RawKvHandlers } from "./raw-kv-handlers.ts";
import type { RequestLimits } from "./request-validation.ts";
import type {
  CasRequest,
  CasResult,
  KeyCheck,
  RawMutation,
  RegionReader,
  ServedStore,
} from "./served-store.ts";
import { createServerMetrics } from "./server-metrics.ts";
import { createSnapshotHandler } from "./snapshot-stream.ts";
import { createTikvService } from "./tikv-service.ts";
import { TransportFilterChain } from "./transport-filter.ts";
import { TxnKvHandlers } from "./txn-kv-handlers.ts";

const STORE_ID = 1n;
const LIMITS: RequestLimits = {
  maxKeyBytes: 64,
  maxEntryBytes: 4096,
  maxBatchKeys: 8,
  maxBatchBytes: 2048,
  maxScanLimit: 5,
};
const MAX_IN_FLIGHT = 3;

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);
const context = (overrides: Partial<kvrpcpb.Context> = {}) =>
  kvrpcpb.Context.fromPartial({
    regionId: 1n,
    regionEpoch: { confVer: 1n, version: 1n },
    peer: { id: 2n, storeId: STORE_ID },
    ...overrides,
  });

/** Writes to keys starting with "slow" wait until the test releases them. */
class StubStore implements ServedStore, TxnStore {
  readonly storeId = STORE_ID;
  readonly data = new Map<string, Uint8Array>();
  readonly mvcc = new MemoryMvccStorage();
  calls = 0;
  failNext: unknown;
  readonly held: Array<() => void> = [];

  async write(_context: kvrpcpb.Context, mutations: readonly RawMutation[]): Promise<void> {
    this.enter();
    const first = mutations[0];
    if (first?.type === "put" && text(first.key).startsWith("slow")) {
      await new Promise<void>((resolve) => this.held.push(resolve));
    }
    for (const mutation of mutations) {
      if (mutation.type === "put") this.data.set(text(mutation.key), mutation.value);
      else if (mutation.type === "delete") this.data.delete(text(mutation.key));
      else
        for (const key of [...this.data.keys()]) {
          const inRange =
            key >= text(mutation.startKey) && (mutation.endKey.length === 0 || key < text(mutation.endKey));
          if (inRange) this.data.delete(key);
        }
    }
  }

  async compareAndSwap(_context: kvrpcpb.Context, request: CasRequest): Promise<CasResult> {
    this.enter();
    const previousValue = this.data.get(text(request.key));
    const expected = request.previousValue;
    const succeeded =
      expected === undefined
        ? previousValue === undefined
        : previousValue !== undefined && compareBytes(previousValue, expected) === 0;
    if (succeeded) this.data.set(text(request.key), request.value);
    return { succeeded, previousValue };
  }

  async read<T>(_context: kvrpcpb.Context, _check: KeyCheck, readFn: (reader: RegionReader) => Promise<T>) {
    this.enter();
    const reader: RegionReader = {
      region: metapb.Region.fromPartial({ id: 1n }),
      term: 1,
      mvcc: this.mvcc,
      get: async (key) => this.data.get(text(key)),
      batchGet: async (keys) => keys.map((key) => this.data.get(text(key))),
      scan: async (range) => this.scan(range),
    };
    return readFn(reader);
  }

  async splitRegion(regionId: bigint, splitKeys: readonly Uint8Array[]): Promise<metapb.Region[]> {
    this.enter();
    const bounds = [new Uint8Array(), ...splitKeys, new Uint8Array()];
    return splitKeys.concat([new Uint8Array()]).map((_, index) =>
      metapb.Region.fromPartial({
        id: regionId + BigInt(index),
        startKey: bounds[index],
        endKey: bounds[index + 1],
      }),
    );
  }

  onRaftMessages(): void {}

  async writeTxn(_context: kvrpcpb.Context, _read: unknown, modifies: readonly Modify[]): Promise<void> {
    this.enter();
    this.mvcc.apply(modifies);
  }

  async deleteTxnRange(): Promise<void> {
    this.enter();
  }

  async unsafeDestroyRange(): Promise<void> {
    this.enter();
  }

  private enter(): void {
    this.calls++;
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure !== undefined) throw failure;
  }

  private scan(range: RawScanOptions): RawPair[] {
    const keys = [...this.data.keys()]
      .filter((key) => key >= text(range.startKey) && (range.endKey.length === 0 || key < text(range.endKey)))
      .sort();
    if (range.reverse) keys.reverse();
    return keys.slice(0, range.limit).map((key) => ({
      key: bytes(key),
      value: range.keyOnly ? new Uint8Array() : this.data.get(key)!,
    }));
  }
}

function call<Response>(
  invoke: (done: (error: ServiceError | null, response: Response) => void) => unknown,
): Promise<Response> {
  return new Promise((resolve, reject) =>
    invoke((error, response) => (error ? reject(error) : resolve(response))),
  );
}

describe("tikv service", () => {
  const store = new StubStore();
  const registry = createRegistry("store");
  let server: Server;
  let client: tikvpb.TikvClient;

  before(async () => {
    const metrics = createServerMetrics(new MetricFactory(registry, "store"));
    const logger = silentLogger();
    const handlers = new RawKvHandlers({
      store,
      limits: LIMITS,
      metrics: metrics.grpc,
      clock: systemClock,
      logger,
    });
    const concurrency = new ConcurrencyManager();
    const txnMetrics = createDetachedTxnMetrics();
    const txnHandlers = new TxnKvHandlers({
      store,
      scheduler: new TxnScheduler({
        store,
        latches: new Latches(64, 64),
        concurrency,
        lockReleases: { released: () => {} },
        tso: async () => 1n,
        maxWriteBytes: LIMITS.maxEntryBytes,
        busyBackoffMs: 10,
        metrics: txnMetrics,
        clock: systemClock,
      }),
      concurrency,
      lockWaiter: { wait: async () => ({ kind: "timeout" }) },
      limits: LIMITS,
      defaultLockWaitTimeoutMs: 0,
      metrics: txnMetrics,
      clock: systemClock,
      logger,
    });
    server = new Server();
    server.addService(
      tikvpb.TikvService,
      createTikvService({
        store,
        handlers,
        txnHandlers,
        limits: LIMITS,
        batchCommandsMaxInFlight: MAX_IN_FLIGHT,
        raftReceiver: new RaftReceiver({
          storeId: STORE_ID,
          sink: store,
          filters: new TransportFilterChain(),
          maxDelayedMessages: 1,
          timers: { setTimeout: () => ({ cancel() {} }), setInterval: () => ({ cancel() {} }) },
          logger,
          metrics: metrics.transport,
        }),
        snapshot: createSnapshotHandler({
          sink: new RecordingSnapshotSink(0),
          maxConcurrentReceives: 1,
          idleTimeoutMs: 60_000,
          timers: systemTimers,
        }),
        metrics: metrics.grpc,
        logger,
      }),
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    client = createTikvClient(`127.0.0.1:${port}`, TEST_MAX_MESSAGE_BYTES);
  });

  after(() => {
    client?.close();
    server?.forceShutdown();
  });

  beforeEach(() => {
    store.data.clear();
    store.failNext = undefined;
  });

  describe("raw RPCs", () => {
    test("put, get, batch put, batch get, delete, batch delete", async () => {
      await call<kvrpcpb.RawPutResponse>((done) =>
        client.rawPut({ context: context(), key: bytes("a"), value: bytes("1") }, done),
      );
      const got = await call<kvrpcpb.RawGetResponse>((done) =>
        client.rawGet({ context: context(), key: bytes("a") }, done),
      );
      assert.equal(text(got.value), "1");
      assert.equal(got.notFound, false);
      const missing = await call<kvrpcpb.RawGetResponse>((done) =>
        client.rawGet({ context: context(), key: bytes("nope") }, done),
      );
      assert.equal(missing.notFound, true);

      const pairs = ["b", "c", "d"].map((key) =>
        kvrpcpb.KvPair.fromPartial({ key: bytes(key), value: bytes(key) }),
      );
      await call<kvrpcpb.RawBatchPutResponse>((done) =>
        client.rawBatchPut({ context: context(), pairs }, done),
      );
      const batch = await call<kvrpcpb.RawBatchGetResponse>((done) =>
        client.rawBatchGet(
          {
            context: context(),
            keys: [bytes("b"), bytes("x"), bytes("d")],
          },
          done,
        ),
      );
      assert.deepEqual(
        batch.pairs.map((pair) => text(pair.key)),
        ["b", "d"],
        "only existing keys are returned",
      );

      await call<kvrpcpb.RawDeleteResponse>((done) =>
        client.rawDelete({ context: context(), key: bytes("a") }, done),
      );
      await call<kvrpcpb.RawBatchDeleteResponse>((done) =>
        client.rawBatchDelete({ context: context(), keys: [bytes("b"), bytes("c")] }, done),
      );
      assert.deepEqual([...store.data.keys()], ["d"]);
    });

    test("scan: end key, limit, reverse, key only, and the server's scan bound", async () => {
      for (const key of ["a", "b", "c", "d", "e", "f", "g"]) store.data.set(key, bytes(key.toUpperCase()));
      const scan = (request: Partial<kvrpcpb.RawScanRequest>) =>
        call<kvrpcpb.RawScanResponse>((done) =>
          client.rawScan(kvrpcpb.RawScanRequest.fromPartial({ context: context(), ...request }), done),
        );
      const keys = (response: kvrpcpb.RawScanResponse) => response.kvs.map((pair) => text(pair.key));

      assert.deepEqual(keys(await scan({ startKey: bytes("b"), endKey: bytes("e"), limit: 10 })), [
        "b",
        "c",
        "d",
      ]);
      assert.deepEqual(keys(await scan({ startKey: bytes("b"), limit: 2 })), ["b", "c"]);
      assert.deepEqual(keys(await scan({ startKey: bytes("a"), limit: 0 })), ["a", "b", "c", "d", "e"]);
      assert.deepEqual(keys(await scan({ startKey: bytes("a"), limit: 100 })).length, LIMITS.maxScanLimit);
      assert.deepEqual(
        keys(await scan({ startKey: bytes("e"), endKey: bytes("b"), reverse: true, limit: 10 })),
        ["d", "c", "b"],
      );
      const keyOnly = await scan({ startKey: bytes("f"), keyOnly: true, limit: 10 });
      assert.deepEqual(keys(keyOnly), ["f", "g"]);
      assert.ok(keyOnly.kvs.every((pair) => pair.value.length === 0));
      const withValues = await scan({ startKey: bytes("f"), limit: 10 });
      assert.deepEqual(
        withValues.kvs.map((pair) => text(pair.value)),
        ["F", "G"],
      );
    });

    test("delete range and compare-and-swap", async () => {
      for (const key of ["a", "b", "c", "d"]) store.data.set(key, bytes(key));
      await call<kvrpcpb.RawDeleteRangeResponse>((done) =>
        client.rawDeleteRange({ context: context(), startKey: bytes("b"), endKey: bytes("d") }, done),
      );
      assert.deepEqual([...store.data.keys()].sort(), ["a", "d"]);

      const cas = (request: Partial<kvrpcpb.RawCompareAndSwapRequest>) =>
        call<kvrpcpb.RawCompareAndSwapResponse>((done) =>
          client.rawCompareAndSwap(
            kvrpcpb.RawCompareAndSwapRequest.fromPartial({ context: context(), ...request }),
            done,
          ),
        );
      const created = await cas({ key: bytes("n"), value: bytes("1"), previousNotExist: true });
      assert.deepEqual([created.succeed, created.previousNotExist], [true, true]);
      const wrong = await cas({ key: bytes("n"), value: bytes("2"), previousValue: bytes("0") });
      assert.deepEqual(
        [wrong.succeed, text(wrong.previousValue), wrong.previousNotExist],
        [false, "1", false],
      );
      const swapped = await cas({ key: bytes("n"), value: bytes("2"), previousValue: bytes("1") });
      assert.equal(swapped.succeed, true);
      assert.equal(text(store.data.get("n")!), "2");
    });
  });

  describe("validation before the store is touched", () => {
    const expectRefused = async (
      run: () => Promise<{
        error?: string;
        regionError?: unknown;
        kvs?: kvrpcpb.KvPair[];
        pairs?: kvrpcpb.KvPair[];
      }>,
      expected: RegExp,
    ) => {
      const callsBefore = store.calls;
      const response = await run();
      const message =
        response.error || response.kvs?.[0]?.error?.abort || response.pairs?.[0]?.error?.abort || "";
      assert.match(message, expected);
      assert.equal(store.calls, callsBefore, "the store was called for an invalid request");
    };

    test("no context, empty key, oversized key", async () => {
      await expectRefused(
        () =>
          call<kvrpcpb.RawGetResponse>((done) =>
            client.rawGet({ context: undefined, key: bytes("a") }, done),
          ),
        /no context/,
      );
      await expectRefused(
        () =>
          call<kvrpcpb.RawPutResponse>((done) =>
            client.rawPut({ context: context(), key: new Uint8Array(), value: bytes("v") }, done),
          ),
        /key is empty/,
      );
      await expectRefused(
        () =>
          call<kvrpcpb.RawDeleteResponse>((done) =>
            client.rawDelete({ context: context(), key: new Uint8Array(65) }, done),
          ),
        /65 bytes, over the limit of 64 \(server.max-key-size\)/,
      );
    });

    test("reversed ranges: forward scan, reverse scan, delete range", async () => {
      await expectRefused(
        () =>
          call<kvrpcpb.RawScanResponse>((done) =>
            client.rawScan(
              kvrpcpb.RawScanRequest.fromPartial({
                context: context(),
                startKey: bytes("m"),
                endKey: bytes("c"),
              }),
              done,
            ),
          ),
        /start key 6d is greater than end key 63/,
      );
      await expectRefused(
        () =>
          call<kvrpcpb.RawScanResponse>((done) =>
            client.rawScan(
              kvrpcpb.RawScanRequest.fromPartial({
                context: context(),
                startKey: bytes("c"),
                endKey: bytes("m"),
                reverse: true,
              }),
              done,
            ),
          ),
        /a reverse scan covers \[end, start\)/,
      );
      await expectRefused(
        () =>
          call<kvrpcpb.RawDeleteRangeResponse>((done) =>
            client.rawDeleteRange({ context: context(), startKey: bytes("z"), endKey: bytes("a") }, done),
          ),
        /must not be reversed/,
      );
    });

    test("batches: empty, too many keys, too many bytes", async () => {
      await expectRefused(
        () =>
          call<kvrpcpb.RawBatchGetResponse>((done) =>
            client.rawBatchGet({ context: context(), keys: [] }, done),
          ),
        /batch is empty/,
      );
      const nineKeys = Array.from({ length: 9 }, (_, index) => bytes(`k${index}`));
      await expectRefused(
        () =>
          call<kvrpcpb.RawBatchDeleteResponse>((done) =>
            client.rawBatchDelete({ context: context(), keys: nineKeys }, done),
          ),
        /9 keys, over the limit of 8 \(server.max-batch-keys\)/,
      );
      const bigPairs = [1, 2, 3].map((index) =>
        kvrpcpb.KvPair.fromPartial({ key: bytes(`k${index}`), value: new Uint8Array(1000) }),
      );
      await expectRefused(
        () =>
          call<kvrpcpb.RawBatchPutResponse>((done) =>
            client.rawBatchPut({ context: context(), pairs: bigPairs }, done),
          ),
        /over the limit of 2048 \(server.max-batch-size\)/,
      );
    });

    test("a wrong store id and a value too large for a raft entry are region errors", async () => {
      const callsBefore = store.calls;
      const wrongStore = await call<kvrpcpb.RawGetResponse>((done) =>
        client.rawGet(
          {
            context: context({ peer: metapb.Peer.fromPartial({ id: 2n, storeId: 9n }) }),
            key: bytes("a"),
          },
          done,
        ),
      );
      assert.deepEqual(wrongStore.regionError?.storeNotMatch, {
        requestStoreId: 9n,
        actualStoreId: STORE_ID,
      });
      const tooLarge = await call<kvrpcpb.RawPutResponse>((done) =>
        client.rawPut(
          {
            context: context(),
            key: bytes("a"),
            value: new Uint8Array(5000),
          },
          done,
        ),
      );
      assert.deepEqual(tooLarge.regionError?.raftEntryTooLarge, { regionId: 1n, entrySize: 5001n });
      assert.equal(store.calls, callsBefore);
    });
  });

  describe("store failures", () => {
    test("a region error from the store becomes region_error", async () => {
      store.failNext = new NotLeaderError(1n, metapb.Peer.fromPartial({ id: 3n, storeId: 2n }));
      const response = await call<kvrpcpb.RawGetResponse>((done) =>
        client.rawGet({ context: context(), key: bytes("a") }, done),
      );
      assert.deepEqual(response.regionError?.notLeader?.leader, { id: 3n, storeId: 2n, role: 0 });
      assert.match(response.regionError?.message ?? "", /not the leader/);
    });

    test("an unexpected error becomes the error text and the server keeps serving", async () => {
      store.failNext = new Error("disk on fire");
      const failed = await call<kvrpcpb.RawPutResponse>((done) =>
        client.rawPut({ context: context(), key: bytes("a"), value: bytes("1") }, done),
      );
      assert.equal(failed.error, "disk on fire");
      store.failNext = new Error("disk on fire");
      const scan = await call<kvrpcpb.RawScanResponse>((done) =>
        client.rawScan(kvrpcpb.RawScanRequest.fromPartial({ context: context() }), done),
      );
      assert.equal(scan.kvs[0]?.error?.abort, "disk on fire");
      const after = await call<kvrpcpb.RawPutResponse>((done) =>
        client.rawPut({ context: context(), key: bytes("a"), value: bytes("1") }, done),
      );
      assert.equal(after.error, "");
    });

    test("request counts by type and outcome are exported", async () => {
      const metrics = await registry.metrics();
      assert.match(metrics, /store_grpc_requests_total\{type="raw_get",outcome="region_error"\} [1-9]/);
      assert.match(metrics, /store_grpc_requests_total\{type="raw_put",outcome="ok"\} [1-9]/);
      assert.match(metrics, /store_grpc_request_duration_seconds_count\{type="raw_scan"\} [1-9]/);
    });
  });

  describe("other RPCs", () => {
    test("transactional RPCs run: prewrite, commit and get answer over unary calls", async () => {
      const prewrite = await call<kvrpcpb.PrewriteResponse>((done) =>
        client.kvPrewrite(
          kvrpcpb.PrewriteRequest.fromPartial({
            context: context(),
            mutations: [{ op: kvrpcpb.Op.PUT, key: bytes("t1"), value: bytes("v1") }],
            primaryLock: bytes("t1"),
            startTs: 10n,
            lockTtlMs: 3000n,
          }),
          done,
        ),
      );
      assert.deepEqual(prewrite.errors, []);
      const locked = await call<kvrpcpb.GetResponse>((done) =>
        client.kvGet(
          kvrpcpb.GetRequest.fromPartial({ context: context(), key: bytes("t1"), readTs: 20n }),
          done,
        ),
      );
      assert.equal(locked.error?.locked?.lockTs, 10n);
      const committed = await call<kvrpcpb.CommitResponse>((done) =>
        client.kvCommit(
          kvrpcpb.CommitRequest.fromPartial({
            context: context(),
            keys: [bytes("t1")],
            startTs: 10n,
            commitTs: 15n,
          }),
          done,
        ),
      );
      assert.equal(committed.error, undefined);
      const read = await call<kvrpcpb.GetResponse>((done) =>
        client.kvGet(
          kvrpcpb.GetRequest.fromPartial({ context: context(), key: bytes("t1"), readTs: 20n }),
          done,
        ),
      );
      assert.equal(text(read.value), "v1");
      const invalid = await call<kvrpcpb.CommitResponse>((done) =>
        client.kvCommit(
          kvrpcpb.CommitRequest.fromPartial({
            context: context(),
            keys: [bytes("t1")],
            startTs: 10n,
            commitTs: 5n,
          }),
          done,
        ),
      );
      assert.match(invalid.error?.abort ?? "", /commit_ts 5 must be greater than start_ts 10/);
    });

    test("SplitRegion validates its keys and returns the resulting regions", async () => {
      await assert.rejects(
        call<kvrpcpb.SplitRegionResponse>((done) =>
          client.splitRegion({ context: context(), splitKeys: [bytes("m"), bytes("c")] }, done),
        ),
        (error: ServiceError) =>
          error.code === status.INVALID_ARGUMENT && /strictly ascending/.test(error.details),
      );
      const split = await call<kvrpcpb.SplitRegionResponse>((done) =>
        client.splitRegion({ context: context(), splitKeys: [bytes("m")] }, done),
      );
      assert.deepEqual(
        split.regions.map((region) => [text(region.startKey), text(region.endKey)]),
        [
          ["", "m"],
          ["m", ""],
        ],
      );
    });
  });

  describe("BatchCommands", () => {
    type Stream = ClientDuplexStream<tikvpb.BatchCommandsRequest, tikvpb.BatchCommandsResponse>;
    const open = () => {
      const stream: Stream = client.batchCommands();
      const answers = new Map<bigint, tikvpb.BatchCommandsResponse_Response>();
      const order: bigint[] = [];
      stream.on("data", (response: tikvpb.BatchCommandsResponse) =>
        response.requestIds.forEach((id, index) => {
          answers.set(id, response.responses[index]!);
          order.push(id);
        }),
      );
      const ended = new Promise<ServiceError | undefined>((resolve) => {
        stream.on("error", (error: ServiceError) => resolve(error));
        stream.on("end", () => resolve(undefined));
      });
      return { stream, answers, order, ended };
    };
    const put = (key: string): tikvpb.BatchCommandsRequest_Request => ({
      cmd: {
        $case: "rawPut",
        value: kvrpcpb.RawPutRequest.fromPartial({ context: context(), key: bytes(key), value: bytes(key) }),
      },
    });
    const releaseAll = () => {
      for (const release of store.held.splice(0)) release();
    };

    test("every id gets the answer of its own request, of the matching kind", async () => {
      store.data.set("a", bytes("A"));
      const { stream, answers, ended } = open();
      stream.write({
        requestIds: [10n, 11n, 12n, 13n, 14n],
        requests: [
          {
            cmd: {
              $case: "rawGet",
              value: kvrpcpb.RawGetRequest.fromPartial({ context: context(), key: bytes("a") }),
            },
          },
          put("b"),
          { cmd: { $case: "empty", value: { testId: 77n } } },
          { cmd: { $case: "get", value: kvrpcpb.GetRequest.fromPartial({ context: context() }) } },
          {
            cmd: {
              $case: "rawGet",
              value: kvrpcpb.RawGetRequest.fromPartial({ context: undefined, key: bytes("a") }),
            },
          },
        ],
      });
      stream.end();
      assert.equal(await ended, undefined);
      const answer = (id: bigint) => {
        const cmd = answers.get(id)?.cmd;
        assert.ok(cmd !== undefined, `no answer for request ${id}`);
        return cmd;
      };
      assert.equal(answer(10n).$case, "rawGet");
      assert.equal(text((answer(10n).value as kvrpcpb.RawGetResponse).value), "A");
      assert.equal(answer(11n).$case, "rawPut");
      assert.deepEqual(answer(12n), { $case: "empty", value: { testId: 77n } });
      assert.equal(answer(13n).$case, "get");
      assert.match((answer(13n).value as kvrpcpb.GetResponse).error?.abort ?? "", /key is empty/);
      assert.match((answer(14n).value as kvrpcpb.RawGetResponse).error, /no context/);
    });

    test("requests run concurrently: a fast request is answered while a slow one is held", async () => {
      const { stream, answers, order, ended } = open();
      stream.write({ requestIds: [1n, 2n], requests: [put("slow-1"), put("fast")] });
      await waitFor("the fast answer", () => answers.has(2n));
      assert.equal(answers.has(1n), false);
      releaseAll();
      await waitFor("the slow answer", () => answers.has(1n));
      assert.deepEqual(order, [2n, 1n]);
      stream.end();
      await ended;
    });

    test("at most maxInFlight requests of a stream run at once", async () => {
      const { stream, answers, ended } = open();
      const callsBefore = store.calls;
      stream.write({
        requestIds: [1n, 2n, 3n],
        requests: [put("slow-1"), put("slow-2"), put("slow-3")],
      });
      stream.write({ requestIds: [4n, 5n], requests: [put("slow-4"), put("slow-5")] });
      await waitFor("3 requests in the store", () => store.held.length === MAX_IN_FLIGHT);
      // The stream is paused: the second batch waits even though the first is fully started.
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(store.calls - callsBefore, MAX_IN_FLIGHT);
      releaseAll();
      await waitFor("the second batch to start", () => store.held.length === 2);
      releaseAll();
      await waitFor("all 5 answers", () => answers.size === 5);
      stream.end();
      await ended;
    });

    test("transactional commands run on the stream, each answered in its own kind", async () => {
      const exchange = async (requests: tikvpb.BatchCommandsRequest_Request[]) => {
        const { stream, answers, ended } = open();
        stream.write({ requestIds: requests.map((_, index) => BigInt(index)), requests });
        stream.end();
        assert.equal(await ended, undefined);
        return requests.map((_, index) => {
          const cmd = answers.get(BigInt(index))?.cmd;
          assert.ok(cmd !== undefined, `no answer for request ${index}`);
          return cmd;
        });
      };
      const [prewrite] = await exchange([
        {
          cmd: {
            $case: "prewrite",
            value: kvrpcpb.PrewriteRequest.fromPartial({
              context: context(),
              mutations: [{ op: kvrpcpb.Op.PUT, key: bytes("s1"), value: bytes("stream") }],
              primaryLock: bytes("s1"),
              startTs: 30n,
              lockTtlMs: 3000n,
            }),
          },
        },
      ]);
      assert.equal(prewrite!.$case, "prewrite");
      assert.deepEqual((prewrite!.value as kvrpcpb.PrewriteResponse).errors, []);
      const [commit] = await exchange([
        {
          cmd: {
            $case: "commit",
            value: kvrpcpb.CommitRequest.fromPartial({
              context: context(),
              keys: [bytes("s1")],
              startTs: 30n,
              commitTs: 31n,
            }),
          },
        },
      ]);
      assert.equal(commit!.$case, "commit");
      const [get, scan, lock] = await exchange([
        {
          cmd: {
            $case: "get",
            value: kvrpcpb.GetRequest.fromPartial({ context: context(), key: bytes("s1"), readTs: 40n }),
          },
        },
        {
          cmd: {
            $case: "scan",
            value: kvrpcpb.ScanRequest.fromPartial({
              context: context(),
              startKey: bytes("s"),
              endKey: bytes("t"),
              readTs: 40n,
            }),
          },
        },
        {
          cmd: {
            $case: "scanLock",
            value: kvrpcpb.ScanLockRequest.fromPartial({ context: context(), maxTs: 100n }),
          },
        },
      ]);
      assert.equal(text((get!.value as kvrpcpb.GetResponse).value), "stream");
      assert.deepEqual(
        (scan!.value as kvrpcpb.ScanResponse).pairs.map((pair) => text(pair.key)),
        ["s1"],
      );
      assert.equal(lock!.$case, "scanLock");
    });

    test("a batch with fewer ids than requests fails the stream with INVALID_ARGUMENT", async () => {
      const { stream, ended } = open();
      stream.write({ requestIds: [1n], requests: [put("x"), put("y")] });
      const error = await ended;
      assert.equal(error?.code, status.INVALID_ARGUMENT);
      assert.match(error?.details ?? "", /2 requests but 1 request ids/);
    });
  });
});
