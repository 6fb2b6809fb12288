/**
 * `runInTurn`: the way code outside the store loop asks for a change. A change runs inside a turn, its
 * result or refusal reaches its caller, and a change that breaks an invariant stops the store without
 * leaving any caller waiting forever. The loop runs here with no regions, on a stub context: a turn with
 * no peers touches no engine.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { systemClock, systemRandom, systemTimers, TaskScope } from "#runtime";
import { silentLogger } from "../testing/silent-observability.ts";
import { createDetachedRaftstoreMetrics } from "./metrics.ts";
import { defaultRaftstoreConfig } from "./raftstore-config.ts";
import { NotLeaderError, ServerIsBusyError } from "./region-errors.ts";
import { StoreContext, type StoreEngines } from "./store-context.ts";
import { StoreLoop } from "./store-loop.ts";
import { StoreMeta } from "./store-meta.ts";

function emptyStore(onFatal: (error: Error) => void = () => undefined): StoreLoop {
  const config = defaultRaftstoreConfig();
  const context = new StoreContext(
    1n,
    {} as StoreEngines,
    config,
    new StoreMeta(config.maxPendingVotes),
    { send: () => undefined, sendSnapshot: () => Promise.resolve() },
    {
      askBatchSplit: () => Promise.resolve([]),
      reportBatchSplit: () => Promise.resolve(),
      getRegionById: () => Promise.resolve(undefined),
    },
    {},
    createDetachedRaftstoreMetrics(),
    silentLogger(),
    systemClock,
    systemTimers,
    systemRandom,
    new TaskScope({ name: "test", onError: () => undefined }),
  );
  return new StoreLoop(context, onFatal);
}

class BrokenInvariantError extends Error {}

describe("runInTurn", () => {
  it("runs the change inside a turn and resolves with its result", async () => {
    const loop = emptyStore();
    loop.start();
    try {
      const seen = await loop.runInTurn("look", (turn) => ({ open: turn.isOpen, number: turn.number }));
      assert.deepEqual(seen, { open: true, number: 1 });
    } finally {
      await loop.close();
    }
  });

  it("a refusal goes to its caller only; the loop keeps running", async () => {
    const loop = emptyStore();
    loop.start();
    try {
      await assert.rejects(
        loop.runInTurn("refuse", () => {
          throw new NotLeaderError(7n, undefined);
        }),
        NotLeaderError,
      );
      assert.equal(await loop.runInTurn("after", () => "still running"), "still running");
      assert.equal(loop.fatalError, undefined);
    } finally {
      await loop.close();
    }
  });

  it("a broken invariant stops the store and fails that change and every change queued behind it", async () => {
    const fatal: Error[] = [];
    const loop = emptyStore((error) => fatal.push(error));
    loop.start();
    try {
      const broken = loop.runInTurn("break", () => {
        throw new BrokenInvariantError("invariant");
      });
      const behind = loop.runInTurn("behind", () => "never runs");
      await assert.rejects(broken, BrokenInvariantError);
      await assert.rejects(behind, BrokenInvariantError);
      assert.equal(fatal.length, 1);
      assert.ok(loop.fatalError instanceof BrokenInvariantError);
      await assert.rejects(
        loop.runInTurn("later", () => "no"),
        ServerIsBusyError,
      );
    } finally {
      await loop.close();
    }
  });

  it("close fails the changes no turn will run", async () => {
    const loop = emptyStore();
    // Never started: no turn runs until close.
    const queued = loop.runInTurn("queued", () => "no");
    await loop.close();
    await assert.rejects(queued, ServerIsBusyError);
  });
});
