import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Etcd3 } from "etcd3";
import { createLogger } from "#observability";
import { type EtcdCluster, startEtcdCluster } from "../../../../tests/support/etcd-cluster.ts";
import { fromUtf8, numberedMember, utf8, waitUntil } from "../testing/storage-fixtures.ts";
import type { LeadershipEvent } from "./election.ts";
import { NotLeaderError } from "./errors.ts";
import { openEtcdBackend } from "./etcd-backend.ts";
import { encodeMember } from "./member.ts";
import type { PdBackend } from "./pd-backend.ts";

/** Generous bound for a takeover with a 1 s lease on a loaded 2-core machine; not a latency target. */
const TAKEOVER_BOUND_MS = 15_000;
const LEASE_TTL_SECONDS = 1;
// Errors only: step-downs are expected here and would drown the test report.
const logger = createLogger({ component: "pd", level: "error" });

let etcd: EtcdCluster;
let rootCount = 0;
before(async () => {
  etcd = await startEtcdCluster({ members: 1 });
});
after(() => etcd.stop());

const freshRoot = () => `/tessera-test/pd-${process.pid}-${rootCount++}`;

async function openMember(rootPath: string, index: number): Promise<PdBackend> {
  const backend = await openEtcdBackend({
    endpoints: etcd.endpoints,
    rootPath,
    self: numberedMember(index),
    leaseTtlSeconds: LEASE_TTL_SECONDS,
    logger,
  });
  after(() => backend.close());
  return backend;
}

async function openMembers(rootPath: string, indexes: readonly number[]): Promise<PdBackend[]> {
  const backends: PdBackend[] = [];
  for (const index of indexes) backends.push(await openMember(rootPath, index));
  return backends;
}

function leaderOf(backends: readonly PdBackend[]): PdBackend {
  const leaders = backends.filter((backend) => backend.election.isLeader);
  assert.equal(leaders.length, 1, `expected exactly one leader, found ${leaders.length}`);
  return leaders[0]!;
}

async function settledLeader(backends: readonly PdBackend[]): Promise<PdBackend> {
  await waitUntil("every member knows the one leader", TAKEOVER_BOUND_MS, () => {
    const leaders = backends.filter((backend) => backend.election.isLeader);
    if (leaders.length !== 1) return false;
    const leaderId = leaders[0]!.election.leader()?.memberId;
    return backends.every((backend) => backend.election.leader()?.memberId === leaderId);
  });
  return leaderOf(backends);
}

describe("etcd backend election", () => {
  it("elects exactly one leader among three members and lists them all", async () => {
    const backends = await openMembers(freshRoot(), [1, 2, 3]);
    await settledLeader(backends);
    for (const backend of backends) {
      const members = await backend.election.members();
      assert.deepEqual(
        members.map((member) => member.name),
        ["pd-1", "pd-2", "pd-3"],
      );
    }
  });

  it("hands leadership to another member when the leader closes", async () => {
    const backends = await openMembers(freshRoot(), [1, 2, 3]);
    const oldLeader = await settledLeader(backends);
    const events: LeadershipEvent[] = [];
    const survivors = backends.filter((backend) => backend !== oldLeader);
    for (const backend of survivors) backend.election.onLeadershipChange((event) => events.push(event));
    await oldLeader.close();
    const newLeader = await settledLeader(survivors);
    assert.ok(
      events.some((event) => event.isLeader),
      "the new leader's listener heard it",
    );
    const members = await newLeader.election.members();
    assert.equal(members.length, 2, "the closed member deregistered");
    await assert.rejects(oldLeader.storage.save("x", utf8("1")), NotLeaderError);
  });

  it("hands leadership over after the leader resigns", async () => {
    const backends = await openMembers(freshRoot(), [1, 2]);
    const oldLeader = await settledLeader(backends);
    await oldLeader.election.resign();
    assert.equal(oldLeader.election.isLeader, false);
    const newLeader = await settledLeader(backends);
    assert.notEqual(newLeader, oldLeader);
  });

  it("replaces a leader killed with SIGKILL once its lease expires", async () => {
    const rootPath = freshRoot();
    const script = fileURLToPath(new URL("../testing/etcd-member-process.ts", import.meta.url));
    const child = fork(script, [etcd.endpoints[0]!, rootPath, "9"], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    after(async () => {
      child.kill("SIGKILL");
      await exited;
    });
    await new Promise<void>((resolve, reject) => {
      child.on("message", (message: { isLeader: boolean }) => message.isLeader && resolve());
      child.on("exit", (code) => reject(new Error(`member process exited (${code}) before leading`)));
    });
    const backends = await openMembers(rootPath, [1, 2]);
    assert.ok(backends.every((backend) => !backend.election.isLeader));
    assert.equal(backends[0]!.election.leader()?.name, "pd-9");

    child.kill("SIGKILL");
    await exited;
    const newLeader = await settledLeader(backends);
    await newLeader.storage.save("after-crash", utf8("ok"));
    await waitUntil("the crashed member's registration expires", TAKEOVER_BOUND_MS, async () => {
      const members = await newLeader.election.members();
      return members.every((member) => member.name !== "pd-9");
    });
  });
});

describe("etcd backend when etcd fails", () => {
  it("steps down while etcd is down and elects a leader again once it is back", async () => {
    const ownEtcd = await startEtcdCluster({ members: 1 });
    const backends: PdBackend[] = [];
    // Members first, while etcd may still answer their goodbyes.
    after(async () => {
      await Promise.all(backends.map((backend) => backend.close()));
      await ownEtcd.stop();
    });
    const rootPath = freshRoot();
    for (const index of [1, 2]) {
      backends.push(
        await openEtcdBackend({
          endpoints: ownEtcd.endpoints,
          rootPath,
          self: numberedMember(index),
          leaseTtlSeconds: LEASE_TTL_SECONDS,
          logger,
        }),
      );
    }
    const leader = await settledLeader(backends);
    const events: LeadershipEvent[] = [];
    leader.election.onLeadershipChange((event) => events.push(event));

    await ownEtcd.kill(0);
    await waitUntil("the leader's listeners hear that it lost its lease", TAKEOVER_BOUND_MS, () =>
      events.some((event) => !event.isLeader),
    );
    assert.ok(backends.every((backend) => !backend.election.isLeader));
    await assert.rejects(leader.storage.save("x", utf8("1")), NotLeaderError);

    await ownEtcd.restart(0);
    const newLeader = await settledLeader(backends);
    await newLeader.storage.save("after-etcd-restart", utf8("ok"));
  });
});

describe("etcd backend storage", () => {
  it("lets followers read what the leader wrote and refuses their writes with the leader's address", async () => {
    const backends = await openMembers(freshRoot(), [1, 2, 3]);
    const leader = await settledLeader(backends);
    const follower = backends.find((backend) => backend !== leader)!;
    await leader.storage.save("cluster_id", utf8("7"));
    await leader.storage.saveBatch(
      ["raft/r/2", "raft/r/1", "raft/r/3"].map((key) => ({ key, value: utf8(key) })),
      ["cluster_id"],
    );
    assert.equal(await follower.storage.load("cluster_id"), undefined);
    const page = await follower.storage.loadRange("raft/r/", "", 2);
    assert.deepEqual(
      page.map((entry) => [entry.key, fromUtf8(entry.value)]),
      [
        ["raft/r/1", "raft/r/1"],
        ["raft/r/2", "raft/r/2"],
      ],
    );
    await leader.storage.remove("raft/r/1");
    assert.equal(await follower.storage.load("raft/r/1"), undefined);

    await assert.rejects(follower.storage.save("raft/r/9", utf8("x")), (error: unknown) => {
      assert.ok(error instanceof NotLeaderError);
      assert.equal(error.leader?.memberId, leader.election.leader()?.memberId);
      assert.deepEqual(error.leader?.clientUrls, leader.election.leader()?.clientUrls);
      return true;
    });
    assert.equal(await leader.storage.load("raft/r/9"), undefined);
  });

  it("refuses writes of a leader whose key was taken over, and tells it so", async () => {
    const rootPath = freshRoot();
    const [deposed] = await openMembers(rootPath, [1]);
    await settledLeader([deposed!]);
    const stepDowns: LeadershipEvent[] = [];
    deposed!.election.onLeadershipChange((event) => stepDowns.push(event));

    // Another writer replaces the leader key behind the member's back.
    const intruder = numberedMember(66);
    const raw = new Etcd3({ hosts: etcd.endpoints });
    after(() => raw.close());
    await raw.put(`${rootPath}/election/leader`).value(encodeMember(intruder));

    await assert.rejects(deposed!.storage.save("tso/window", utf8("1")), (error: unknown) => {
      assert.ok(error instanceof NotLeaderError);
      return true;
    });
    await waitUntil("the deposed member steps down", TAKEOVER_BOUND_MS, () => !deposed!.election.isLeader);
    assert.ok(stepDowns.some((event) => !event.isLeader));
    await waitUntil(
      "the deposed member learns the intruder",
      TAKEOVER_BOUND_MS,
      () => deposed!.election.leader()?.name === "pd-66",
    );
    assert.equal(await deposed!.storage.load("tso/window"), undefined);
  });

  it("fails to open with a clear error when etcd is unreachable", async () => {
    await assert.rejects(
      openEtcdBackend({
        endpoints: ["http://127.0.0.1:1"],
        rootPath: freshRoot(),
        self: numberedMember(1),
        leaseTtlSeconds: 1,
        requestTimeoutMs: 500,
        logger,
      }),
      /open \(etcd http:\/\/127\.0\.0\.1:1/,
    );
  });
});
