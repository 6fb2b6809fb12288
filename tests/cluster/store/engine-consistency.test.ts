/**
 * The engine inspection used after SIGKILL must see what it claims to: a consistent data directory passes,
 * and each kind of damage written into one on purpose is reported.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { metapb, raft_serverpb } from "#proto";
import { EntryType } from "#raft";
import { WriteBatch } from "#rocksdb";
import {
  KvEngine,
  putApplyState,
  putRegionState,
} from "../../../services/tikv-store/src/engine/kv-engine.ts";
import { RaftEngine } from "../../../services/tikv-store/src/engine/raft-engine.ts";
import { RaftLogStore } from "../../../services/tikv-store/src/engine/raft-log-store.ts";
import { inspectEngines } from "./engine-consistency.ts";

const STORE_ID = 1n;
const REGION_ID = 5n;
const PD_EPOCH = { confVer: 2n, version: 3n };

interface Damage {
  readonly state?: raft_serverpb.PeerState;
  readonly epoch?: metapb.RegionEpoch;
  readonly appliedIndex?: number;
  /** Log entries left out. */
  readonly missingIndex?: number;
}

/** A data directory with one region: truncated at 5, applied 10, committed 12, log 6..15 — unless damaged. */
async function writeDataDir(damage: Damage): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), "tessera-inspection-"));
  const kvEngine = await KvEngine.open(dataDir);
  const raftEngine = await RaftEngine.open(dataDir);
  try {
    const kvBatch = new WriteBatch();
    putRegionState(kvBatch, REGION_ID, {
      state: damage.state ?? raft_serverpb.PeerState.NORMAL,
      region: metapb.Region.fromPartial({
        id: REGION_ID,
        regionEpoch: damage.epoch ?? PD_EPOCH,
        peers: [{ id: 6n, storeId: STORE_ID }],
      }),
    });
    putApplyState(kvBatch, REGION_ID, {
      appliedIndex: BigInt(damage.appliedIndex ?? 10),
      truncatedState: { index: 5n, term: 1n },
      commitIndex: 12n,
      commitTerm: 2n,
    });
    await kvEngine.write(kvBatch, { sync: true });
    const log = new RaftLogStore(raftEngine);
    const raftBatch = new WriteBatch();
    const entries = Array.from({ length: 10 }, (_, offset) => ({
      term: 2,
      index: 6 + offset,
      type: EntryType.Normal,
      data: new Uint8Array(),
    }));
    log.appendEntries(raftBatch, REGION_ID, entries, 5);
    if (damage.missingIndex !== undefined)
      log.deleteEntriesBefore(raftBatch, REGION_ID, damage.missingIndex + 1, damage.missingIndex);
    log.putRaftState(raftBatch, REGION_ID, { hardState: { term: 2, vote: 6, commit: 12 }, lastIndex: 15 });
    await raftEngine.write(raftBatch, { sync: true });
  } finally {
    await kvEngine.close();
    await raftEngine.close();
  }
  return dataDir;
}

async function inspect(damage: Damage): Promise<readonly string[]> {
  const dataDir = await writeDataDir(damage);
  try {
    const inspection = await inspectEngines({
      dataDir,
      storeId: STORE_ID,
      pdRegion: (regionId) =>
        regionId === REGION_ID
          ? metapb.Region.fromPartial({ id: REGION_ID, regionEpoch: PD_EPOCH })
          : undefined,
    });
    return inspection.problems;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe("engine consistency inspection", () => {
  it("passes a consistent region", async () => {
    assert.deepEqual(await inspect({}), []);
  });

  it("reports an applied index beyond the persisted commit index", async () => {
    assert.match((await inspect({ appliedIndex: 13 })).join("\n"), /indexes out of order/);
  });

  it("reports a hole in the raft log", async () => {
    assert.match((await inspect({ missingIndex: 9 })).join("\n"), /gap/);
  });

  it("reports a region epoch newer than pd's", async () => {
    assert.match((await inspect({ epoch: { confVer: 3n, version: 3n } })).join("\n"), /newer than pd's/);
  });

  it("reports a tombstone that kept its apply state", async () => {
    assert.match(
      (await inspect({ state: raft_serverpb.PeerState.TOMBSTONE })).join("\n"),
      /tombstone keeps its apply state/,
    );
  });
});
