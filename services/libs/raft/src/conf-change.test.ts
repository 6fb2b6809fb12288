import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ConfChangeDecodeError, decodeConfChange, encodeConfChange } from "./conf-change.ts";
import { ConfChangeType } from "./types.ts";

describe("conf change encoding", () => {
  it("round-trips every type, node id and context", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(ConfChangeType.AddNode, ConfChangeType.RemoveNode, ConfChangeType.AddLearnerNode),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.uint8Array({ maxLength: 20 }),
        (type, nodeId, context) => {
          const decoded = decodeConfChange(encodeConfChange({ type, nodeId, context }));
          assert.equal(decoded.type, type);
          assert.equal(decoded.nodeId, nodeId);
          assert.deepEqual(decoded.context ?? new Uint8Array(), context);
        },
      ),
    );
  });

  it("rejects truncated data and unknown types", () => {
    assert.throws(() => decodeConfChange(new Uint8Array(3)), ConfChangeDecodeError);
    const data = encodeConfChange({ type: ConfChangeType.AddNode, nodeId: 4 });
    data[0] = 9;
    assert.throws(() => decodeConfChange(data), ConfChangeDecodeError);
  });
});
