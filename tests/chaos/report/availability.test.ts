import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Operation } from "../history/operation.ts";
import type { FaultRecord } from "../nemesis/nemesis.ts";
import { operationKey, regionIndexOf, splitKeys } from "../workload/key-regions.ts";
import { registerKey } from "../workload/register-workload.ts";
import { describeAvailability, unavailabilityAfter } from "./availability.ts";

const fault: FaultRecord = { kind: "kill", description: "kill -9 s1", startMs: 1_000, endMs: 3_000 };
const keys = splitKeys("register", 3);
const regionOf = (operation: Operation) => {
  const key = operationKey(operation);
  return key === undefined ? undefined : regionIndexOf(key, keys);
};

function write(
  index: number,
  invokeMs: number,
  completeMs: number | undefined,
  outcome: Operation["outcome"],
): Operation {
  const key = registerKey(0, index);
  return { client: index, op: "write", key, args: { value: "1" }, invokeMs, completeMs, outcome };
}

describe("availability around a fault", () => {
  it("spreads register keys and set elements over the split regions", () => {
    assert.deepEqual(keys, ["chaos/register/1", "chaos/register/2"]);
    assert.deepEqual(
      [0, 1, 2, 3].map((index) => regionIndexOf(registerKey(7, index), keys)),
      [0, 1, 2, 2],
    );
    const setKeys = splitKeys("set", 2);
    const add = (element: string): Operation => ({
      client: 0,
      op: "add",
      args: { element },
      invokeMs: 0,
      completeMs: 1,
      outcome: "ok",
    });
    assert.equal(regionIndexOf(operationKey(add("0-0000001"))!, setKeys), 0);
    assert.equal(regionIndexOf(operationKey(add("1-0000001"))!, setKeys), 1);
    assert.equal(
      operationKey({ client: 0, op: "read-all", invokeMs: 0, completeMs: 1, outcome: "ok" }),
      undefined,
    );
  });

  it("takes the worst region's first success after the fault, ignoring earlier invocations", () => {
    const history = [
      write(0, 900, 1_050, "ok"), // invoked before the fault: says nothing about recovery
      write(0, 1_010, 1_200, "ok"),
      write(1, 1_020, 2_000, "fail"),
      write(1, 2_100, 2_600, "ok"),
      write(2, 1_100, 1_150, "ok"),
    ];
    const availability = unavailabilityAfter(fault, history, regionOf);
    assert.deepEqual(availability.regions, [200, 1_600, 150]);
    assert.equal(availability.unavailableMs, 1_600);
    const [summary] = describeAvailability([fault], history, regionOf);
    assert.match(summary!, /unavailable 1600 ms \(by region: 200 ms, 1600 ms, 150 ms\)/);
  });

  it("tells writes apart: reads served on a lease do not hide a region that cannot commit", () => {
    const read: Operation = {
      client: 9,
      op: "read",
      key: registerKey(0, 0),
      invokeMs: 1_010,
      completeMs: 1_020,
      outcome: "ok",
      result: "1",
    };
    const history = [read, write(0, 1_030, 2_900, "ok")];
    const availability = unavailabilityAfter(fault, history);
    assert.equal(availability.unavailableMs, 20);
    assert.equal(availability.writesUnavailableMs, 1_900);
    assert.match(describeAvailability([fault], history)[0]!, /unavailable 20 ms; writes 1900 ms/);
  });

  it("reports a region that never recovered as unavailable until the end", () => {
    const history = [write(0, 1_010, 1_200, "ok"), write(1, 1_020, undefined, "unknown")];
    const availability = unavailabilityAfter(fault, history, regionOf);
    assert.equal(availability.unavailableMs, undefined);
    assert.match(describeAvailability([fault], history, regionOf)[0]!, /unavailable until the end/);
  });
});
