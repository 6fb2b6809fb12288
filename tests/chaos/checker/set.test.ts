import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Operation, Outcome } from "../history/operation.ts";
import { checkSet, DuplicateInsertError } from "./set.ts";

const add = (
  element: string,
  invokeMs: number,
  completeMs: number | undefined,
  outcome: Outcome,
): Operation => ({
  client: 0,
  op: "add",
  args: { element },
  invokeMs,
  completeMs,
  outcome,
});
const readAll = (elements: readonly string[], invokeMs = 1000, completeMs = 1010): Operation => ({
  client: 9,
  op: "read-all",
  invokeMs,
  completeMs,
  outcome: "ok",
  result: elements,
});

describe("checkSet", () => {
  it("accepts every acknowledged insert present, with unknown inserts either way and failures absent", () => {
    const report = checkSet([
      add("a", 0, 10, "ok"),
      add("b", 5, 15, "ok"),
      add("c", 20, undefined, "unknown"),
      add("d", 30, undefined, "unknown"),
      add("e", 40, 50, "fail"),
      readAll(["b", "a", "c"]),
    ]);
    assert.equal(report.ok, true);
    assert.equal(report.verdict, "valid");
    assert.equal(report.acknowledged, 2);
    assert.equal(report.attempted, 5);
    assert.equal(report.indeterminatePresent, 1);
    assert.equal(report.indeterminateAbsent, 1);
  });

  it("lists an acknowledged insert missing from the final read as lost", () => {
    const report = checkSet([add("a", 0, 10, "ok"), add("b", 5, 15, "ok"), readAll(["a"])]);
    assert.equal(report.ok, false);
    assert.equal(report.verdict, "invalid");
    assert.deepEqual(report.lost, ["b"]);
  });

  it("lists an element nobody inserted as a phantom", () => {
    const report = checkSet([add("a", 0, 10, "ok"), readAll(["a", "zzz"])]);
    assert.equal(report.ok, false);
    assert.deepEqual(report.phantoms, ["zzz"]);
  });

  it("treats an element seen before its insert was invoked as a phantom", () => {
    const report = checkSet([readAll(["late"], 0, 10), add("late", 20, 30, "ok")]);
    assert.deepEqual(report.phantoms, ["late"]);
    assert.equal(report.ok, false);
  });

  it("flags a definitely failed insert that is present, and duplicate elements", () => {
    const report = checkSet([add("a", 0, 10, "fail"), add("b", 0, 10, "ok"), readAll(["a", "b", "b"])]);
    assert.deepEqual(report.failedButPresent, ["a"]);
    assert.deepEqual(report.duplicates, ["b"]);
    assert.equal(report.ok, false);
  });

  it("does not require an insert acknowledged while the final read ran", () => {
    const report = checkSet([add("a", 990, 1005, "ok"), readAll([])]);
    assert.equal(report.ok, true);
    assert.equal(report.indeterminateAbsent, 1);
  });

  it("uses the read-all that completed last and ignores other sets", () => {
    const otherSet: Operation = { ...add("x", 0, 1, "ok"), key: "other" } as Operation;
    const report = checkSet([add("a", 0, 10, "ok"), readAll([], 11, 12), readAll(["a"]), otherSet]);
    assert.equal(report.ok, true);
    assert.equal(report.finalReadSize, 1);
  });

  it("gives no verdict without a successful final read", () => {
    const report = checkSet([add("a", 0, 10, "ok")]);
    assert.equal(report.ok, false);
    assert.equal(report.verdict, "unknown (no successful final read)");
  });

  it("refuses a workload that inserts the same element twice", () => {
    assert.throws(
      () => checkSet([add("a", 0, 1, "ok"), add("a", 2, 3, "ok"), readAll(["a"])]),
      DuplicateInsertError,
    );
  });
});
