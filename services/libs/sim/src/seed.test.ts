import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatReplay, InvalidSeedError, readSeedFromEnvironment, resolveSeed } from "./seed.ts";

describe("resolveSeed", () => {
  test("replays SEED from the environment and prints how to replay it", () => {
    const printed: string[] = [];
    const seed = resolveSeed("raft basic", {
      environment: { SEED: "424242" },
      command: "node --import tsx raft.test.ts",
      print: (line) => printed.push(line),
    });
    assert.equal(seed, 424242);
    assert.deepEqual(printed, [
      "[sim] raft basic seed=424242 (replay: SEED=424242 node --import tsx raft.test.ts)",
    ]);
  });

  test("without SEED picks a fresh seed and still prints it", () => {
    const printed: string[] = [];
    const seed = resolveSeed("fresh", { environment: {}, print: (line) => printed.push(line) });
    assert.ok(Number.isSafeInteger(seed) && seed >= 0);
    assert.equal(printed.length, 1);
    assert.ok(printed[0]!.startsWith(`[sim] fresh seed=${seed} (replay: SEED=${seed} node `), printed[0]);
  });

  test("treats an empty SEED as unset and rejects one that is not a non-negative integer", () => {
    assert.equal(readSeedFromEnvironment({ SEED: "" }), undefined);
    assert.equal(readSeedFromEnvironment({ SEED: " 7 " }), 7);
    for (const bad of ["-1", "1.5", "abc", "99999999999999999999"]) {
      assert.throws(() => readSeedFromEnvironment({ SEED: bad }), InvalidSeedError, bad);
    }
  });

  test("formatReplay puts the seed in front of the command", () => {
    assert.equal(formatReplay(9, "npm run sim:raft"), "SEED=9 npm run sim:raft");
  });
});
