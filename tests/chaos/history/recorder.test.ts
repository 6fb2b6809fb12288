import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Operation } from "./operation.ts";
import { HistoryRecorder } from "./recorder.ts";

class RejectedError extends Error {}

function fixture() {
  let nowMs = 0;
  const completed: Operation[] = [];
  const recorder = new HistoryRecorder({
    nowMs: () => nowMs++,
    classifyError: (error) => (error instanceof RejectedError ? "fail" : "unknown"),
    onComplete: (operation) => completed.push(operation),
  });
  return { recorder, completed };
}

describe("HistoryRecorder", () => {
  it("records invoke and complete times and results of successful operations", async () => {
    const { recorder, completed } = fixture();
    const read = await recorder.read({ client: 1, op: "read", key: "x" }, async () => null);
    assert.deepEqual(read, {
      client: 1,
      op: "read",
      key: "x",
      invokeMs: 0,
      completeMs: 1,
      outcome: "ok",
      result: null,
    });
    const write = await recorder.write(
      { client: 1, op: "write", key: "x", args: { value: "v" } },
      async () => "ignored",
    );
    assert.equal(write.outcome, "ok");
    assert.equal("result" in write, false);
    const all = await recorder.readAll({ client: 2, op: "read-all" }, async () => ["a", "b"]);
    assert.deepEqual(all.result, ["a", "b"]);
    assert.deepEqual(completed, [read, write, all]);
  });

  it("records a cas that did not swap as a definite failure", async () => {
    const { recorder } = fixture();
    const invocation = { client: 0, op: "cas", key: "x", args: { expected: null, new: "1" } } as const;
    assert.equal((await recorder.cas(invocation, async () => true)).outcome, "ok");
    assert.equal((await recorder.cas(invocation, async () => false)).outcome, "fail");
  });

  it("maps errors through the classifier: definite rejections fail, anything else is unknown", async () => {
    const { recorder } = fixture();
    const invocation = { client: 0, op: "add", args: { element: "e" } } as const;
    const rejected = await recorder.add(invocation, () => Promise.reject(new RejectedError("no")));
    const timedOut = await recorder.add(invocation, () => Promise.reject(new Error("deadline exceeded")));
    assert.equal(rejected.outcome, "fail");
    assert.equal(timedOut.outcome, "unknown");
    assert.equal("result" in timedOut, false);
  });

  it("includes operations still running as unknown, ordered by invoke time", async () => {
    const { recorder } = fixture();
    let release: (value: string) => void = () => {};
    const hanging = recorder.read(
      { client: 0, op: "read", key: "x" },
      () => new Promise((resolve) => (release = resolve)),
    );
    await recorder.write({ client: 1, op: "write", key: "x", args: { value: "1" } }, async () => undefined);
    const history = recorder.history();
    assert.deepEqual(
      history.map((operation) => [operation.op, operation.outcome, operation.completeMs]),
      [
        ["read", "unknown", undefined],
        ["write", "ok", 2],
      ],
    );
    release("1");
    await hanging;
    assert.deepEqual(
      recorder.history().map((operation) => operation.outcome),
      ["ok", "ok"],
    );
  });
});
