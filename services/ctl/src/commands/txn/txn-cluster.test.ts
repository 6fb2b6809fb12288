/**
 * `ctl txn locks` and `ctl txn mvcc` against a real pd and one store over gRPC in this process, with two
 * regions: transactional data is written through the store's RPCs (TxnRpc), then read back through
 * `runCtl` with captured output, as an operator would see it.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { kvrpcpb } from "#proto";
import { bytes } from "../../../../tikv-store/src/testing/bytes.ts";
import { StoreCluster } from "../../../../tikv-store/src/testing/cluster/store-cluster.ts";
import { TxnRpc } from "../../../../tikv-store/src/testing/txn-rpc.ts";
import { runCtl } from "../../ctl.ts";

interface Run {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

interface LockJson {
  readonly region_id: string;
  readonly key: string;
  readonly primary: string;
  readonly lock_type: string;
  readonly start_ts: string;
  readonly ttl_ms: string;
  readonly for_update_ts: string;
  readonly min_commit_ts: string;
  readonly use_async_commit: boolean;
}

interface LocksJson {
  readonly count: number;
  readonly limit_reached: boolean;
  readonly locks: readonly LockJson[];
}

/** How long pd may take to learn both regions and their leader from the store's heartbeats. */
const PD_CATCH_UP_TIMEOUT_MS = 20_000;
const POLL_INTERVAL_MS = 100;

const put = (key: string, value: string): kvrpcpb.Mutation => ({
  op: kvrpcpb.Op.PUT,
  key: bytes(key),
  value: bytes(value),
});

describe("ctl txn against a real pd and store", () => {
  let cluster: StoreCluster | undefined;
  let rpc: TxnRpc | undefined;
  let leftRegion = "";
  let rightRegion = "";

  const ctl = async (...argv: string[]): Promise<Run> => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const exitCode = await runCtl([...argv, "--pd", cluster!.pd.httpUrl], {
      stdout: (text) => stdout.push(text),
      stderr: (text) => stderr.push(text),
    });
    return { exitCode, stdout: stdout.join("\n"), stderr: stderr.join("\n") };
  };
  const ctlJson = async <T>(...argv: string[]): Promise<T> => {
    const run = await ctl(...argv, "--json");
    assert.equal(run.exitCode, 0, `${argv.join(" ")}: ${run.stderr}`);
    return JSON.parse(run.stdout) as T;
  };
  const tso = () => cluster!.pdClient.getTimestamp();
  /** A committed transaction writing `mutations`; returns its start and commit timestamps. */
  const commit = async (mutations: readonly kvrpcpb.Mutation[]): Promise<[bigint, bigint]> => {
    const startTs = await tso();
    assert.deepEqual(await rpc!.prewrite(mutations, mutations[0]!.key, startTs), []);
    const commitTs = await tso();
    assert.equal(
      await rpc!.commit(
        mutations.map((mutation) => mutation.key),
        startTs,
        commitTs,
      ),
      undefined,
    );
    return [startTs, commitTs];
  };

  before(async () => {
    cluster = await StoreCluster.start({ label: "ctl txn", stores: 1, transport: "grpc" });
    rpc = new TxnRpc(cluster);
    const [left, right] = await cluster.split(bytes("m"));
    leftRegion = left.id.toString();
    rightRegion = right.id.toString();
    // ctl routes by pd's view, so wait until pd knows both halves and their leader.
    const deadline = Date.now() + PD_CATCH_UP_TIMEOUT_MS;
    let health = await ctl("cluster", "health", "--json");
    while (
      (health.exitCode !== 0 ||
        (JSON.parse(health.stdout) as { regions: { count: number } }).regions.count !== 2) &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
      health = await ctl("cluster", "health", "--json");
    }
    assert.equal(health.exitCode, 0, health.stdout + health.stderr);
  });

  after(async () => {
    rpc?.close();
    await cluster?.close();
  });

  test("locks of uncommitted transactions, across both regions, filtered by --region, --max-ts and --limit", async () => {
    const startTs = await tso();
    assert.deepEqual(
      await rpc!.prewrite([put("a/1", "A1"), put("a/2", "A2"), put("x/1", "X1")], bytes("a/1"), startTs),
      [],
    );
    const asyncStartTs = await tso();
    assert.deepEqual(
      await rpc!.prewrite([put("n/1", "N1")], bytes("n/1"), asyncStartTs, { useAsyncCommit: true }),
      [],
    );

    const all = await ctlJson<LocksJson>("txn", "locks");
    assert.equal(all.count, 4);
    assert.equal(all.limit_reached, false);
    assert.deepEqual(
      all.locks.map((lock) => [lock.key, lock.region_id, lock.primary, lock.start_ts]),
      [
        ["a/1", leftRegion, "a/1", String(startTs)],
        ["a/2", leftRegion, "a/1", String(startTs)],
        ["n/1", rightRegion, "n/1", String(asyncStartTs)],
        ["x/1", rightRegion, "a/1", String(startTs)],
      ],
    );
    const [a2, n1] = [all.locks[1]!, all.locks[2]!];
    assert.deepEqual(
      [a2.lock_type, a2.ttl_ms, a2.for_update_ts, a2.min_commit_ts, a2.use_async_commit],
      ["Put", "3000", "0", "0", false],
    );
    assert.equal(n1.use_async_commit, true);
    assert.ok(BigInt(n1.min_commit_ts) > asyncStartTs, "async commit sets min_commit_ts");

    const table = await ctl("txn", "locks");
    assert.equal(table.exitCode, 0, table.stderr);
    assert.match(
      table.stdout,
      /^REGION\s+KEY\s+PRIMARY\s+TYPE\s+START_TS\s+TTL_MS\s+FOR_UPDATE_TS\s+MIN_COMMIT_TS\s+ASYNC_COMMIT\n/,
    );
    assert.match(
      table.stdout,
      new RegExp(`\\n\\s*${leftRegion}\\s+a/2\\s+a/1\\s+Put\\s+${startTs}\\s+3000\\s+-\\s+\\S+\\s+no\\n`),
    );
    assert.match(
      table.stdout,
      new RegExp(`\\n\\s*${rightRegion}\\s+n/1\\s+n/1\\s+Put\\s+${asyncStartTs}\\s.*\\syes\\n`),
    );
    assert.match(table.stdout, /\n4 locks$/);

    const right = await ctlJson<LocksJson>("txn", "locks", "--region", rightRegion);
    assert.deepEqual(
      right.locks.map((lock) => lock.key),
      ["n/1", "x/1"],
    );
    const upToFirst = await ctlJson<LocksJson>("txn", "locks", "--max-ts", String(startTs));
    assert.deepEqual(
      upToFirst.locks.map((lock) => lock.key),
      ["a/1", "a/2", "x/1"],
    );
    const below = await ctl("txn", "locks", "--max-ts", String(startTs - 1n));
    assert.equal(below.exitCode, 0, below.stderr);
    assert.match(below.stdout, /\n\(none\)\n0 locks$/);

    const two = await ctlJson<LocksJson>("txn", "locks", "--limit", "2");
    assert.deepEqual(
      two.locks.map((lock) => lock.key),
      ["a/1", "a/2"],
    );
    assert.equal(two.limit_reached, true);
    const threeAcross = await ctlJson<LocksJson>("txn", "locks", "--limit", "3");
    assert.deepEqual(
      threeAcross.locks.map((lock) => [lock.key, lock.region_id]),
      [
        ["a/1", leftRegion],
        ["a/2", leftRegion],
        ["n/1", rightRegion],
      ],
    );
    assert.match(
      (await ctl("txn", "locks", "--limit", "2")).stdout,
      /\n2 locks \(--limit reached; there may be more\)$/,
    );

    const locked = await ctl("txn", "mvcc", "a/2");
    assert.equal(locked.exitCode, 0, locked.stderr);
    assert.match(
      locked.stdout,
      new RegExp(`\\nlock:\\n {2}type\\s+Put\\n {2}primary\\s+a/1\\n {2}start_ts\\s+${startTs}\\n`),
    );
  });

  test("a committed key shows each Put version newest first with its commit_ts and value", async () => {
    const [firstStart, firstCommit] = await commit([put("c/short", "v1")]);
    const [secondStart, secondCommit] = await commit([put("c/short", "v2")]);

    const json = await ctlJson<Record<string, unknown>>("txn", "mvcc", "c/short");
    assert.deepEqual(json, {
      key: "c/short",
      region_id: leftRegion,
      store_id: String(cluster!.storeId(0)),
      lock: null,
      writes: [
        {
          type: "Put",
          start_ts: String(secondStart),
          commit_ts: String(secondCommit),
          short_value: "v2",
          has_overlapped_rollback: false,
        },
        {
          type: "Put",
          start_ts: String(firstStart),
          commit_ts: String(firstCommit),
          short_value: "v1",
          has_overlapped_rollback: false,
        },
      ],
      values: [],
      truncated: false,
    });

    const text = await ctl("txn", "mvcc", "c/short");
    assert.equal(text.exitCode, 0, text.stderr);
    assert.match(
      text.stdout,
      /^key\s+c\/short\nregion\s+\d+ \(leader on store \d+ at 127\.0\.0\.1:\d+\)\n\nlock: \(none\)\n/,
    );
    assert.match(
      text.stdout,
      new RegExp(
        `writes \\(newest first\\):\\n\\s*COMMIT_TS\\s+TYPE\\s+START_TS\\s+SHORT_VALUE\\s+OVERLAPPED_ROLLBACK\\n` +
          `${secondCommit}\\s+Put\\s+${secondStart}\\s+v2\\s+no\\n${firstCommit}\\s+Put\\s+${firstStart}\\s+v1\\s+no\\n`,
      ),
    );
    assert.match(text.stdout, /default CF values \(newest first\):\n\s*START_TS\s+VALUE\n\(none\)$/);

    const hex = await ctlJson<{ key: string; writes: Array<{ short_value: string }> }>(
      "txn",
      "mvcc",
      Buffer.from("c/short").toString("hex"),
      "--key-format",
      "hex",
      "--value-format",
      "hex",
    );
    assert.equal(hex.key, "632f73686f7274");
    assert.deepEqual(
      hex.writes.map((write) => write.short_value),
      ["7632", "7631"],
    );
  });

  test("a value over 255 bytes shows as a default-CF value of its start_ts", async () => {
    const long = `long-${"L".repeat(300)}`;
    const [startTs, commitTs] = await commit([put("x/long", long)]);

    const json = await ctlJson<{ region_id: string; writes: unknown[]; values: unknown[] }>(
      "txn",
      "mvcc",
      "x/long",
    );
    assert.equal(json.region_id, rightRegion);
    assert.deepEqual(json.writes, [
      {
        type: "Put",
        start_ts: String(startTs),
        commit_ts: String(commitTs),
        short_value: "",
        has_overlapped_rollback: false,
      },
    ]);
    assert.deepEqual(json.values, [{ start_ts: String(startTs), value: long }]);

    const text = await ctl("txn", "mvcc", "x/long");
    assert.match(
      text.stdout,
      new RegExp(`\\n${commitTs}\\s+Put\\s+${startTs}\\s+\\(in default CF\\)\\s+no\\n`),
    );
    assert.match(text.stdout, new RegExp(`\\n\\s*START_TS\\s+VALUE\\n${startTs}\\s+${long}$`));
  });

  test("a rolled-back key shows a Rollback record and no lock", async () => {
    const startTs = await tso();
    assert.deepEqual(await rpc!.prewrite([put("r/1", "gone")], bytes("r/1"), startTs), []);
    const rollback = await rpc!.call<kvrpcpb.BatchRollbackResponse>(bytes("r/1"), (client, context, done) =>
      client.kvBatchRollback({ context, startTs, keys: [bytes("r/1")] }, done),
    );
    assert.equal(rollback.error, undefined);

    const json = await ctlJson<{ lock: unknown; writes: unknown[]; values: unknown[] }>("txn", "mvcc", "r/1");
    assert.equal(json.lock, null);
    assert.deepEqual(json.writes, [
      {
        type: "Rollback",
        start_ts: String(startTs),
        commit_ts: String(startTs),
        short_value: "",
        has_overlapped_rollback: false,
      },
    ]);
    assert.deepEqual(json.values, []);
    assert.match(
      (await ctl("txn", "mvcc", "r/1")).stdout,
      new RegExp(`\\n${startTs}\\s+Rollback\\s+${startTs}\\s+-\\s+no\\n`),
    );
  });

  test("a key never written exits 1 and says it has nothing", async () => {
    const text = await ctl("txn", "mvcc", "never/written");
    const json = await ctl("txn", "mvcc", "never/written", "--json");

    assert.equal(text.exitCode, 1);
    assert.match(text.stdout, /\n\n\(no lock, versions or values\)$/);
    assert.equal(json.exitCode, 1);
    assert.deepEqual(JSON.parse(json.stdout).writes, []);
  });

  test("an unknown --region and a key the store refuses exit 1 with one line saying why", async () => {
    const unknown = await ctl("txn", "locks", "--region", "999999");
    const tooLong = await ctl("txn", "mvcc", "k".repeat(9000));

    assert.equal(unknown.exitCode, 1);
    assert.equal(unknown.stderr, "ctl: txn locks failed: pd knows no region 999999");
    assert.equal(tooLong.exitCode, 1);
    assert.match(
      tooLong.stderr,
      /^ctl: txn mvcc failed: store \d+ at 127\.0\.0\.1:\d+ refused MvccGetByKey: key is 9000 bytes, over the limit of 8192/,
    );
  });

  // Last: it stops the only store.
  test("an unreachable store exits 1 with one line naming it", async () => {
    const storeId = cluster!.storeId(0);
    await cluster!.stop(0);
    for (const argv of [
      ["txn", "mvcc", "c/short"],
      ["txn", "locks"],
    ]) {
      const run = await ctl(...argv);
      assert.equal(run.exitCode, 1, argv.join(" "));
      assert.equal(run.stderr.split("\n").length, 1, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(
          `^ctl: ${argv.slice(0, 2).join(" ")} failed: store ${storeId} at 127\\.0\\.0\\.1:\\d+ is unreachable \\(14 UNAVAILABLE: .*\\); gave up on region \\d+ after 8 attempts$`,
        ),
      );
    }
  });
});
