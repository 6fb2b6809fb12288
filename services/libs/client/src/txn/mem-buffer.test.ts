import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemBuffer } from "./mem-buffer.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (value: Uint8Array) => new TextDecoder().decode(value);
const put = (key: string, value: string) => ({
  kind: "put" as const,
  key: bytes(key),
  value: bytes(value),
  mustNotExist: false,
});
const describeAll = (buffer: MemBuffer) =>
  buffer
    .sorted()
    .map((write) => `${text(write.key)}:${write.kind}${write.kind === "put" ? `=${text(write.value)}` : ""}`);

describe("MemBuffer", () => {
  it("keeps the last write per key, in key order, and ranges in both directions", () => {
    const buffer = new MemBuffer();
    buffer.set(put("b", "1"));
    buffer.set(put("a", "1"));
    buffer.set(put("b", "2"));
    buffer.set({ kind: "delete", key: bytes("c") });
    assert.deepEqual(describeAll(buffer), ["a:put=1", "b:put=2", "c:delete"]);
    assert.deepEqual(
      buffer.range(bytes("b"), new Uint8Array(), true).map((write) => text(write.key)),
      ["c", "b"],
    );
    assert.equal(buffer.sizeBytes, 2 + 2 + 1);
  });

  it("a lock does not replace a write of the same key", () => {
    const buffer = new MemBuffer();
    buffer.set(put("a", "1"));
    buffer.set({ kind: "lock", key: bytes("a") });
    buffer.set({ kind: "lock", key: bytes("b") });
    assert.deepEqual(describeAll(buffer), ["a:put=1", "b:lock"]);
  });

  it("cleanup undoes only the innermost statement; release keeps it for the level below", () => {
    const buffer = new MemBuffer();
    buffer.set(put("a", "1"));
    const outer = buffer.stage();
    buffer.set(put("a", "2"));
    buffer.set(put("b", "1"));
    const inner = buffer.stage();
    buffer.set(put("a", "3"));
    buffer.set({ kind: "delete", key: bytes("c") });
    buffer.cleanup(inner);
    assert.deepEqual(describeAll(buffer), ["a:put=2", "b:put=1"]);
    const again = buffer.stage();
    buffer.set(put("c", "9"));
    buffer.release(again);
    buffer.cleanup(outer);
    assert.deepEqual(describeAll(buffer), ["a:put=1"]);
    assert.equal(buffer.sizeBytes, 2);
    assert.throws(() => buffer.release(5), RangeError);
  });
});
