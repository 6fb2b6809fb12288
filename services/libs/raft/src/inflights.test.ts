import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Inflights } from "./inflights.ts";

describe("Inflights", () => {
  it("fills up to its capacity", () => {
    const inflights = new Inflights(3);
    inflights.add(1, 10);
    inflights.add(2, 10);
    assert.equal(inflights.full(), false);
    inflights.add(3, 10);
    assert.equal(inflights.full(), true);
    assert.throws(() => inflights.add(4, 10), RangeError);
  });

  it("frees acknowledged messages, wrapping around the ring", () => {
    const inflights = new Inflights(3);
    inflights.add(1, 1);
    inflights.add(2, 1);
    inflights.add(3, 1);
    inflights.freeLE(2);
    assert.equal(inflights.count, 1);
    inflights.add(4, 1);
    inflights.add(5, 1);
    assert.equal(inflights.full(), true);
    inflights.freeLE(4);
    assert.equal(inflights.count, 1);
    inflights.freeLE(100);
    assert.equal(inflights.count, 0);
    assert.equal(inflights.bytes, 0);
  });

  it("is full once the byte budget is reached", () => {
    const inflights = new Inflights(10, 100);
    inflights.add(1, 60);
    assert.equal(inflights.full(), false);
    inflights.add(2, 40);
    assert.equal(inflights.full(), true);
    inflights.freeLE(1);
    assert.equal(inflights.bytes, 40);
    assert.equal(inflights.full(), false);
  });

  it("frees nothing below the oldest message", () => {
    const inflights = new Inflights(4);
    inflights.add(5, 1);
    inflights.freeLE(4);
    assert.equal(inflights.count, 1);
  });

  it("behaves like a queue of increasing indexes", () => {
    const operation = fc.oneof(
      fc.record({ kind: fc.constant("add" as const), sizeBytes: fc.nat({ max: 50 }) }),
      fc.record({ kind: fc.constant("free" as const), back: fc.nat({ max: 5 }) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(operation, { maxLength: 60 }),
        (capacity, operations) => {
          const inflights = new Inflights(capacity);
          const model: { index: number; sizeBytes: number }[] = [];
          let nextIndex = 1;
          for (const op of operations) {
            if (op.kind === "add") {
              if (model.length === capacity) continue;
              inflights.add(nextIndex, op.sizeBytes);
              model.push({ index: nextIndex, sizeBytes: op.sizeBytes });
              nextIndex++;
            } else {
              const upTo = nextIndex - 1 - op.back;
              inflights.freeLE(upTo);
              while (model.length > 0 && model[0]!.index <= upTo) model.shift();
            }
            assert.equal(inflights.count, model.length);
            assert.equal(
              inflights.bytes,
              model.reduce((sum, item) => sum + item.sizeBytes, 0),
            );
            assert.equal(inflights.full(), model.length === capacity);
          }
        },
      ),
    );
  });
});
