import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { type PlaygroundState, readState, StateFileError, stateFilePath, writeState } from "./state-file.ts";

const directory = mkdtempSync(join(tmpdir(), "tessera-playground-state-"));
after(() => rmSync(directory, { recursive: true, force: true }));

const STATE: PlaygroundState = {
  version: 1,
  pdCount: 1,
  detached: true,
  launcherPid: null,
  ready: true,
  updatedAt: "2024-01-01T00:00:00.000Z",
  members: [
    {
      name: "pd-1",
      role: "pd",
      pid: 4242,
      ports: [2379, 2378],
      endpoint: "127.0.0.1:2379",
      httpUrl: "http://127.0.0.1:2378",
      dataDir: "/d/pd-1",
      logPath: "/d/logs/pd-1.log",
      stopTimeoutMs: 35_000,
    },
  ],
};

describe("playground state file", () => {
  test("reads back what was written", () => {
    const dataDir = join(directory, "round-trip");
    writeState(dataDir, STATE);
    assert.deepEqual(readState(dataDir), STATE);
  });

  test("is absent for a directory no playground used", () => {
    assert.equal(readState(join(directory, "never-used")), undefined);
  });

  test("names the malformed field", () => {
    const dataDir = join(directory, "malformed");
    writeState(dataDir, STATE);
    const broken = { ...STATE, members: [{ ...STATE.members[0], role: "gateway" }] };
    writeFileSync(stateFilePath(dataDir), JSON.stringify(broken));
    assert.throws(
      () => readState(dataDir),
      (error: unknown) => {
        assert.ok(error instanceof StateFileError);
        assert.match(error.message, /members\[0\]\.role/);
        return true;
      },
    );
    writeFileSync(stateFilePath(dataDir), "{not json");
    assert.throws(() => readState(dataDir), /is not JSON/);
    writeFileSync(stateFilePath(dataDir), JSON.stringify({ ...STATE, version: 2 }));
    assert.throws(() => readState(dataDir), /version 2/);
  });
});
