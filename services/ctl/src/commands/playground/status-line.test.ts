import assert from "node:assert/strict";
import { test } from "node:test";
import { formatStatusLine } from "./status-line.ts";

const NOW = new Date(2024, 0, 1, 12, 34, 56);

test("the status line counts stores up, regions and leaders per store in id order", () => {
  const stores = {
    stores: [
      { id: "3", health: "up", leader_count: 0 },
      { id: "1", health: "up", leader_count: 2 },
      { id: "2", health: "disconnected", leader_count: 1 },
    ],
  };
  assert.equal(
    formatStatusLine(NOW, stores, { count: 3 }),
    "12:34:56  stores up 2/3  regions 3  leaders s1:2 s2:1 s3:0",
  );
});

test("the status line says when pd does not answer", () => {
  assert.equal(formatStatusLine(NOW, undefined, { count: 1 }), "12:34:56  pd is not answering");
});
