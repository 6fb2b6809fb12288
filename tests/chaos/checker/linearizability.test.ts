import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Operation, Outcome, RegisterValue } from "../history/operation.ts";
import { checkLinearizability, InvalidHistoryError } from "./linearizability.ts";
import { randomLinearizableHistory, withCorruptedRead } from "./test-support.ts";

type Window = readonly [invokeMs: number, completeMs: number | undefined];

const timing = ([invokeMs, completeMs]: Window, outcome: Outcome) => ({
  client: 0,
  invokeMs,
  completeMs,
  outcome,
});
const read = (window: Window, result: RegisterValue, key = "x"): Operation => ({
  ...timing(window, "ok"),
  op: "read",
  key,
  result,
});
const write = (window: Window, value: string, outcome: Outcome = "ok", key = "x"): Operation => ({
  ...timing(window, outcome),
  op: "write",
  key,
  args: { value },
});
const cas = (window: Window, expected: RegisterValue, value: string, outcome: Outcome = "ok"): Operation => ({
  ...timing(window, outcome),
  op: "cas",
  key: "x",
  args: { expected, new: value },
});
const UNKNOWN_END = undefined;

function assertNotLinearizable(history: readonly Operation[]) {
  const report = checkLinearizability(history);
  assert.equal(report.ok, false);
  assert.equal(report.verdict, "not-linearizable");
  assert.equal(report.failures.length, 1);
  return report.failures[0]!;
}

function assertLinearizable(history: readonly Operation[]) {
  const report = checkLinearizability(history);
  assert.deepEqual(report.failures, []);
  assert.equal(report.verdict, "linearizable");
  assert.equal(report.ok, true);
}

describe("checkLinearizability catches broken histories", () => {
  it("rejects a stale read after a later write completed", () => {
    const failure = assertNotLinearizable([write([0, 10], "1"), write([20, 30], "2"), read([40, 50], "1")]);
    assert.equal(failure.key, "x");
    assert.equal(failure.unplaceable.op, "read");
    assert.deepEqual(
      failure.longestPrefix.map((operation) => operation.op),
      ["write", "write"],
    );
    assert.equal(failure.valueAfterPrefix, "2");
    assert.match(failure.explanation, /read\(x\) -> "1"/);
  });

  it("rejects an acknowledged write that a later read does not see", () => {
    assertNotLinearizable([write([0, 10], "1"), read([20, 30], null)]);
  });

  it("rejects a lost write whose overwrite order is impossible", () => {
    // Both writes finish by 10; reading "2" then "1" needs "1" to be written after 20.
    assertNotLinearizable([
      write([0, 10], "1"),
      write([0, 10], "2"),
      read([20, 30], "2"),
      read([40, 50], "1"),
    ]);
  });

  it("rejects a write seen before it was invoked", () => {
    const failure = assertNotLinearizable([read([0, 10], "1"), write([20, 30], "1")]);
    assert.equal(failure.longestPrefix.length, 0);
    assert.equal(failure.unplaceable.op, "read");
  });

  it("rejects a write seen before it was invoked even when its outcome is unknown", () => {
    assertNotLinearizable([read([0, 10], "1"), write([20, UNKNOWN_END], "1", "unknown")]);
  });

  it("rejects a cas that succeeded against a value that was not current", () => {
    const failure = assertNotLinearizable([
      write([0, 10], "1"),
      write([20, 30], "2"),
      cas([40, 50], "1", "3"),
    ]);
    assert.equal(failure.unplaceable.op, "cas");
  });

  it("reports only the keys that fail", () => {
    const report = checkLinearizability([
      write([0, 10], "1", "ok", "good"),
      read([20, 30], "1", "good"),
      write([0, 10], "1", "ok", "bad"),
      read([20, 30], null, "bad"),
    ]);
    assert.equal(report.keysChecked, 2);
    assert.deepEqual(
      report.failures.map((failure) => failure.key),
      ["bad"],
    );
  });
});

describe("checkLinearizability accepts valid histories", () => {
  it("accepts overlapping operations that have several valid orders", () => {
    const concurrentWrites = [write([0, 100], "1"), write([0, 100], "2")];
    assertLinearizable([
      ...concurrentWrites,
      read([10, 20], "2"),
      read([30, 40], "1"),
      read([110, 120], "1"),
    ]);
    assertLinearizable([
      ...concurrentWrites,
      read([10, 20], "1"),
      read([30, 40], "2"),
      read([110, 120], "2"),
    ]);
    assertLinearizable([...concurrentWrites, read([10, 20], null), read([110, 120], "2")]);
  });

  it("accepts a read concurrent with a write seeing either value", () => {
    assertLinearizable([write([0, 10], "1"), write([20, 40], "2"), read([25, 30], "1"), read([26, 35], "2")]);
  });

  it("treats operations whose timestamps touch as concurrent", () => {
    assertLinearizable([write([0, 10], "1"), read([10, 20], null)]);
  });

  it("accepts an unknown write that took effect, even long after its invoke", () => {
    assertLinearizable([
      write([0, 10], "1"),
      write([20, UNKNOWN_END], "2", "unknown"),
      read([500, 510], "2"),
    ]);
  });

  it("accepts an unknown write that never took effect", () => {
    assertLinearizable([
      write([0, 10], "1"),
      write([20, UNKNOWN_END], "2", "unknown"),
      read([500, 510], "1"),
    ]);
  });

  it("accepts an unknown cas that could never apply", () => {
    assertLinearizable([
      write([0, 10], "1"),
      cas([20, UNKNOWN_END], "nope", "3", "unknown"),
      read([30, 40], "1"),
    ]);
  });

  it("ignores failed operations", () => {
    assertLinearizable([
      write([0, 10], "1"),
      write([20, 30], "2", "fail"),
      cas([20, 30], "1", "3", "fail"),
      read([40, 50], "1"),
    ]);
  });

  it("accepts a cas chain and ignores set operations", () => {
    assertLinearizable([
      cas([0, 10], null, "1"),
      cas([20, 30], "1", "2"),
      read([40, 50], "2"),
      { client: 1, op: "add", args: { element: "e" }, invokeMs: 0, completeMs: 1, outcome: "ok" },
    ]);
  });

  it("rejects an ok operation without completeMs as an invalid history", () => {
    assert.throws(() => checkLinearizability([write([0, undefined], "1")]), InvalidHistoryError);
  });
});

describe("checkLinearizability search budget", () => {
  it("reports unknown instead of searching past the budget", () => {
    const history = randomLinearizableHistory({
      seed: 7,
      clients: 5,
      operationsPerClient: 40,
      keys: 1,
      unknownRate: 0,
    });
    const report = checkLinearizability(history, { maxStepsPerKey: 3 });
    assert.equal(report.ok, false);
    assert.equal(report.verdict, "unknown (search budget exceeded)");
    assert.deepEqual(
      report.budgetExceeded.map((exceeded) => [exceeded.key, exceeded.steps]),
      [["k0", 3]],
    );
  });
});

describe("checkLinearizability on generated histories", () => {
  const shape = fc.record({
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    clients: fc.integer({ min: 1, max: 6 }),
    operationsPerClient: fc.integer({ min: 1, max: 40 }),
    keys: fc.integer({ min: 1, max: 3 }),
    unknownRate: fc.constantFrom(0, 0.05, 0.2),
  });

  it("accepts every history produced by a sequential register", () => {
    fc.assert(
      fc.property(shape, (options) => {
        const report = checkLinearizability(randomLinearizableHistory(options));
        assert.deepEqual(report.failures, []);
        assert.equal(report.ok, true);
      }),
      { numRuns: 200 },
    );
  });

  it("rejects the same history once a read returns a value never written", () => {
    fc.assert(
      fc.property(shape, fc.nat(), (options, choice) => {
        const corrupted = withCorruptedRead(randomLinearizableHistory(options), choice);
        fc.pre(corrupted !== undefined);
        const report = checkLinearizability(corrupted!);
        assert.equal(report.ok, false);
        assert.equal(report.failures.length, 1);
      }),
      { numRuns: 200 },
    );
  });

  it("checks 10k operations over 20 keys within the default budget", () => {
    const history = randomLinearizableHistory({
      seed: 42,
      clients: 10,
      operationsPerClient: 1000,
      keys: 20,
      unknownRate: 0.02,
    });
    const report = checkLinearizability(history);
    assert.equal(report.keysChecked, 20);
    assert.equal(report.ok, true);
  });
});
