import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fromUtf8, numberedMember, utf8 } from "../testing/storage-fixtures.ts";
import { openEmbeddedBackend } from "./embedded-backend.ts";
import { StorageError } from "./errors.ts";
import { MAX_BATCH_OPERATIONS } from "./meta-storage.ts";

const dataRoot = mkdtempSync(join(tmpdir(), "tessera-pd-embedded-"));
after(() => rmSync(dataRoot, { recursive: true, force: true }));
let directoryCount = 0;
const freshDirectory = () => join(dataRoot, `pd-${directoryCount++}`);

describe("embedded backend", () => {
  it("keeps saved metadata across close and reopen", async () => {
    const dataDir = freshDirectory();
    const first = await openEmbeddedBackend({ dataDir, self: numberedMember(1) });
    await first.storage.save("cluster_id", utf8("42"));
    await first.storage.saveBatch([{ key: "raft/s/1", value: utf8("store") }]);
    await first.close();
    const second = await openEmbeddedBackend({ dataDir, self: numberedMember(1) });
    after(() => second.close());
    assert.equal(fromUtf8(await second.storage.load("cluster_id")), "42");
    assert.equal(fromUtf8(await second.storage.load("raft/s/1")), "store");
    assert.equal(await second.storage.load("absent"), undefined);
  });

  it("loads ranges in key order with a limit and an open end, and applies batches with deletes", async () => {
    const backend = await openEmbeddedBackend({ dataDir: freshDirectory(), self: numberedMember(1) });
    after(() => backend.close());
    const { storage } = backend;
    await storage.saveBatch(
      ["raft/r/3", "raft/r/1", "raft/r/2", "raft/s/1"].map((key) => ({ key, value: utf8(key) })),
    );
    const page = await storage.loadRange("raft/r/", "raft/r0", 2);
    assert.deepEqual(
      page.map((entry) => entry.key),
      ["raft/r/1", "raft/r/2"],
    );
    await storage.saveBatch([{ key: "raft/r/4", value: utf8("4") }], ["raft/r/1", "raft/r/2"]);
    await storage.remove("raft/r/3");
    const rest = await storage.loadRange("raft/r/", "", 10);
    assert.deepEqual(
      rest.map((entry) => entry.key),
      ["raft/r/4", "raft/s/1"],
    );
  });

  it("refuses oversized batches and bad limits with a StorageError", async () => {
    const backend = await openEmbeddedBackend({ dataDir: freshDirectory(), self: numberedMember(1) });
    after(() => backend.close());
    const puts = Array.from({ length: MAX_BATCH_OPERATIONS + 1 }, (_, index) => ({
      key: `k${index}`,
      value: utf8(""),
    }));
    await assert.rejects(backend.storage.saveBatch(puts), StorageError);
    await assert.rejects(backend.storage.loadRange("", "", 0), /limit must be an integer/);
  });

  it("is always the leader and the only member", async () => {
    const self = numberedMember(7);
    const backend = await openEmbeddedBackend({ dataDir: freshDirectory(), self });
    after(() => backend.close());
    assert.equal(backend.election.isLeader, true);
    assert.equal(backend.election.leader()?.memberId, self.memberId);
    assert.deepEqual(await backend.election.members(), [self]);
    await backend.election.resign();
    assert.equal(backend.election.isLeader, true);
  });

  it("refuses a second backend on the same data directory", async () => {
    const dataDir = freshDirectory();
    const backend = await openEmbeddedBackend({ dataDir, self: numberedMember(1) });
    after(() => backend.close());
    await assert.rejects(openEmbeddedBackend({ dataDir, self: numberedMember(2) }), (error) => {
      assert.ok(error instanceof StorageError);
      assert.match(error.message, /lock/i);
      return true;
    });
  });
});
