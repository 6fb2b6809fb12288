/**
 * Percolator transactions across store crashes, with real processes: pd and three stores as child
 * processes, the key space split in two regions. Each round prewrites a transaction over both regions,
 * kills the store leading the primary's region with SIGKILL, and starts it again. Afterwards:
 * - the locks survived (ScanLock finds them) and the transaction commits;
 * - a transaction whose primary committed just before the kill is finished by the lock resolver's path
 *   (CheckTxnStatus on the primary says committed, ResolveLock commits the secondary);
 * - a reader sees exactly the committed values.
 *
 * The seed printed at the start picks the victims; `SEED=n` replays those choices.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { kvrpcpb } from "#proto";
import { SeededRandom, sleep } from "#runtime";
import { resolveSeed } from "#sim";
import { RawRpcClient } from "../../../services/tikv-store/src/testing/raw-rpc-client.ts";
import { ProcessCluster, waitForFullReplication } from "./process-cluster.ts";

const ROUNDS = 3;
const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

// A guard against a hung cluster (it fails instead of blocking the suite), not a speed assertion.
describe("transactions across SIGKILLed stores", { timeout: 4 * 60_000 }, () => {
  const seed = resolveSeed("txn crash");
  const random = new SeededRandom(seed);
  const cluster = new ProcessCluster(mkdtempSync(join(tmpdir(), "tessera-txn-crash-")));
  let rpc: RawRpcClient;
  const tso = () => cluster.pdClient.getTimestamp();

  before(async () => {
    await cluster.start();
    await waitForFullReplication(cluster);
    rpc = new RawRpcClient(cluster.pdClient);
    await rpc.raw<kvrpcpb.SplitRegionResponse>(encode("m"), (client, context, done) =>
      client.splitRegion({ context, splitKeys: [encode("m")] }, done),
    );
  });

  after(async () => {
    rpc?.close();
    await cluster.close();
  });

  const prewrite = async (key: string, value: string, primary: string, startTs: bigint) => {
    const response = await rpc.raw<kvrpcpb.PrewriteResponse>(encode(key), (client, context, done) =>
      client.kvPrewrite(
        kvrpcpb.PrewriteRequest.fromPartial({
          context,
          mutations: [{ op: kvrpcpb.Op.PUT, key: encode(key), value: encode(value) }],
          primaryLock: encode(primary),
          startTs,
          lockTtlMs: 60_000n,
        }),
        done,
      ),
    );
    assert.deepEqual(response.errors, [], `prewrite of ${key}`);
  };
  const commit = async (key: string, startTs: bigint, commitTs: bigint) => {
    const response = await rpc.raw<kvrpcpb.CommitResponse>(encode(key), (client, context, done) =>
      client.kvCommit({ context, keys: [encode(key)], startTs, commitTs }, done),
    );
    assert.equal(response.error, undefined, `commit of ${key}`);
  };
  const locksOf = async (key: string, maxTs: bigint) => {
    const response = await rpc.raw<kvrpcpb.ScanLockResponse>(encode(key), (client, context, done) =>
      client.kvScanLock(
        kvrpcpb.ScanLockRequest.fromPartial({ context, maxTs, startKey: encode(key), limit: 1 }),
        done,
      ),
    );
    return response.locks.filter((lock) => decode(lock.key) === key);
  };
  const read = async (key: string) => {
    const readTs = await tso();
    const response = await rpc.raw<kvrpcpb.GetResponse>(encode(key), (client, context, done) =>
      client.kvGet(kvrpcpb.GetRequest.fromPartial({ context, key: encode(key), readTs }), done),
    );
    assert.equal(response.error, undefined, `read of ${key}`);
    return response.notFound ? undefined : decode(response.value);
  };
  /** Kills the store leading `key`'s region (or a random one), then starts it again. */
  const crash = async (key: string): Promise<string> => {
    const found = await cluster.pdClient.getRegion(encode(key));
    const leader = found?.leader?.storeId;
    const victim =
      leader !== undefined && random.intBelow(4) !== 0 ? cluster.indexOf(leader) : random.intBelow(3);
    await cluster.kill(victim);
    await sleep(random.intBetween(200, 800));
    await cluster.spawn(victim);
    return `store ${victim}${leader !== undefined && cluster.stores[victim]?.storeId === leader ? " (leader)" : ""}`;
  };

  it("locks survive a crash of the primary's leader and the transaction then commits", async () => {
    const crashes: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const [primary, secondary] = [`a-${round}`, `z-${round}`];
      const startTs = await tso();
      await prewrite(primary, `p${round}`, primary, startTs);
      await prewrite(secondary, `s${round}`, primary, startTs);
      crashes.push(await crash(primary));
      assert.equal(
        (await locksOf(primary, startTs)).length,
        1,
        `round ${round}: the primary's lock survived`,
      );
      assert.equal(
        (await locksOf(secondary, startTs)).length,
        1,
        `round ${round}: the secondary's lock survived`,
      );
      const commitTs = await tso();
      await commit(primary, startTs, commitTs);
      await commit(secondary, startTs, commitTs);
      assert.equal(await read(primary), `p${round}`);
      assert.equal(await read(secondary), `s${round}`);
    }
    console.log(`[txn-crash] seed ${seed}: killed ${crashes.join(", ")}`);
  });

  it("a transaction whose primary committed before the crash is finished by the lock resolver's path", async () => {
    const [primary, secondary] = ["a-resolve", "z-resolve"];
    const startTs = await tso();
    await prewrite(primary, "P", primary, startTs);
    await prewrite(secondary, "S", primary, startTs);
    const commitTs = await tso();
    await commit(primary, startTs, commitTs);
    await crash(secondary);
    // A reader meets the secondary's lock; the primary decides the transaction's fate.
    const [lock] = await locksOf(secondary, await tso());
    assert.equal(lock?.lockTs, startTs);
    const status = await rpc.raw<kvrpcpb.CheckTxnStatusResponse>(encode(primary), (client, context, done) =>
      client.kvCheckTxnStatus(
        kvrpcpb.CheckTxnStatusRequest.fromPartial({
          context,
          primaryKey: encode(primary),
          lockTs: startTs,
          callerStartTs: 0n,
          currentTs: 0n,
        }),
        done,
      ),
    );
    assert.equal(status.commitTs, commitTs, "the primary says committed");
    const resolved = await rpc.raw<kvrpcpb.ResolveLockResponse>(encode(secondary), (client, context, done) =>
      client.kvResolveLock(kvrpcpb.ResolveLockRequest.fromPartial({ context, startTs, commitTs }), done),
    );
    assert.equal(resolved.error, undefined);
    assert.equal(await read(secondary), "S");
    assert.deepEqual(await locksOf(secondary, await tso()), []);
  });
});
