import assert from "node:assert/strict";
import { test } from "node:test";
import { ApplyOverlay } from "./apply-overlay.ts";

const bytes = (value: string): Uint8Array => new TextEncoder().encode(value);

test("the overlay answers the latest write of the batch, including range deletes", () => {
  const overlay = new ApplyOverlay();
  assert.deepEqual(overlay.lookup(bytes("a")), { known: false });
  overlay.put(bytes("a"), bytes("1"));
  overlay.put(bytes("c"), bytes("3"));
  assert.deepEqual(overlay.lookup(bytes("a")), { known: true, value: bytes("1") });
  overlay.deleteRange(bytes("a"), bytes("b"));
  assert.deepEqual(overlay.lookup(bytes("a")), { known: true, value: undefined });
  assert.deepEqual(
    overlay.lookup(bytes("aa")),
    { known: true, value: undefined },
    "unwritten keys in the range too",
  );
  assert.deepEqual(overlay.lookup(bytes("c")), { known: true, value: bytes("3") });
  overlay.put(bytes("a"), bytes("again"));
  assert.deepEqual(overlay.lookup(bytes("a")), { known: true, value: bytes("again") });
  overlay.deleteRange(bytes("b"), new Uint8Array(0));
  assert.deepEqual(overlay.lookup(bytes("zzz")), { known: true, value: undefined });
  overlay.delete(bytes("a"));
  assert.deepEqual(overlay.lookup(bytes("a")), { known: true, value: undefined });
});
