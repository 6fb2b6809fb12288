import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TaskScope, TaskScopeClosedError } from "./task-scope.ts";

function scopeWithErrors(maxTasks?: number): { scope: TaskScope; errors: Array<[string, Error]> } {
  const errors: Array<[string, Error]> = [];
  const scope = new TaskScope({
    name: "test",
    onError: (error, task) => errors.push([task, error]),
    maxTasks,
  });
  return { scope, errors };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

describe("TaskScope", () => {
  it("reports a failed task to onError with its name and counts it", async () => {
    const { scope, errors } = scopeWithErrors();
    scope.spawn("fails", async () => {
      throw new Error("boom");
    });
    await scope.drain();
    assert.equal(errors.length, 1);
    assert.equal(errors[0]![0], "fails");
    assert.equal(errors[0]![1].message, "boom");
    assert.equal(scope.failures, 1);
    assert.equal(scope.size, 0);
  });

  it("close aborts the tasks' signal and waits until every task settled", async () => {
    const { scope, errors } = scopeWithErrors();
    let finished = false;
    scope.spawn("waits for abort", (signal) => {
      return new Promise<void>((_resolve, reject) => {
        signal.addEventListener("abort", () => {
          setTimeout(() => {
            finished = true;
            reject(signal.reason);
          }, 5);
        });
      });
    });
    assert.equal(scope.size, 1);
    await scope.close();
    assert.equal(finished, true);
    assert.equal(scope.size, 0);
    assert.deepEqual(errors, [], "a cancellation the scope asked for is not an error");
  });

  it("a task that ignores the signal is still awaited by close", async () => {
    const { scope } = scopeWithErrors();
    const gate = deferred();
    let finished = false;
    scope.spawn("slow", async () => {
      await gate.promise;
      finished = true;
    });
    const closed = scope.close();
    setTimeout(gate.resolve, 5);
    await closed;
    assert.equal(finished, true);
  });

  it("refuses spawns after close and beyond maxTasks", async () => {
    const { scope } = scopeWithErrors(1);
    const gate = deferred();
    assert.equal(
      scope.spawn("first", () => gate.promise),
      true,
    );
    assert.equal(
      scope.spawn("second", async () => undefined),
      false,
    );
    gate.resolve();
    await scope.drain();
    await scope.close();
    assert.equal(
      scope.spawn("after close", async () => undefined),
      false,
    );
    assert.equal(scope.isClosed, true);
  });

  it("a real failure during close is still reported", async () => {
    const { scope, errors } = scopeWithErrors();
    scope.spawn("fails on abort", (signal) => {
      return new Promise<void>((_resolve, reject) => {
        signal.addEventListener("abort", () => reject(new Error("cleanup failed")));
      });
    });
    await scope.close();
    assert.equal(errors.length, 1);
    assert.equal(errors[0]![1].message, "cleanup failed");
  });

  it("drain also waits for tasks spawned by tasks", async () => {
    const { scope } = scopeWithErrors();
    const order: string[] = [];
    scope.spawn("parent", async () => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      scope.spawn("child", async () => {
        await new Promise((resolve) => setTimeout(resolve, 2));
        order.push("child");
      });
      order.push("parent");
    });
    await scope.drain();
    assert.deepEqual(order, ["parent", "child"]);
  });

  it("the scope's closing reason is a TaskScopeClosedError", async () => {
    const { scope } = scopeWithErrors();
    await scope.close();
    assert.ok(scope.signal.reason instanceof TaskScopeClosedError);
  });
});
