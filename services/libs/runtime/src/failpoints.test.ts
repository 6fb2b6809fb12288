import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FailpointError, FailpointSpecError, Failpoints } from "./failpoints.ts";

describe("Failpoints", () => {
  it("does nothing when nothing is armed", async () => {
    const failpoints = new Failpoints();
    await failpoints.reach("anything");
    assert.equal(failpoints.hitCount("anything"), 0);
  });

  it("errors, sleeps, and hangs until the caller's signal aborts", async () => {
    const failpoints = new Failpoints();
    failpoints.armFromSpec("a=error(boom); b=sleep(5);c=hang");
    await assert.rejects(
      failpoints.reach("a"),
      (error: unknown) => error instanceof FailpointError && /boom/.test(error.message),
    );
    await failpoints.reach("b");
    const controller = new AbortController();
    const hung = failpoints.reach("c", controller.signal);
    let settled = false;
    hung.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(settled, false, "a hang does not go on by itself");
    controller.abort(new Error("client closed"));
    await assert.rejects(hung, /client closed/);
    assert.deepEqual(
      ["a", "b", "c"].map((name) => failpoints.hitCount(name)),
      [1, 1, 1],
    );
    failpoints.disarm("a");
    await failpoints.reach("a");
  });

  it("refuses a spec it cannot parse", () => {
    const failpoints = new Failpoints();
    assert.throws(() => failpoints.armFromSpec("x=explode"), FailpointSpecError);
    assert.throws(() => failpoints.armFromSpec("x=sleep(soon)"), FailpointSpecError);
  });
});
