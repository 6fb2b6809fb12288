import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  formatHistory,
  HistoryFormatError,
  parseHistory,
  readHistoryFile,
  writeHistoryFile,
} from "./history-file.ts";
import type { Operation } from "./operation.ts";

const history: readonly Operation[] = [
  { client: 0, op: "write", key: "x", args: { value: "1" }, invokeMs: 0, completeMs: 5, outcome: "ok" },
  { client: 1, op: "read", key: "x", invokeMs: 1, completeMs: 4, outcome: "ok", result: null },
  {
    client: 2,
    op: "cas",
    key: "x",
    args: { expected: null, new: "2" },
    invokeMs: 2,
    completeMs: undefined,
    outcome: "unknown",
  },
  { client: 3, op: "add", args: { element: "e" }, invokeMs: 3, completeMs: 6, outcome: "fail" },
  { client: 4, op: "read-all", invokeMs: 7, completeMs: 9, outcome: "ok", result: ["e"] },
];

describe("history files", () => {
  it("round-trips every operation kind through JSON lines", () => {
    const text = formatHistory(history);
    assert.equal(text.split("\n").length, history.length + 1);
    assert.deepEqual(
      parseHistory(text),
      history.map((operation) => JSON.parse(JSON.stringify(operation))),
    );
  });

  it("writes and reads a file", async () => {
    const directory = await mkdtemp(join(tmpdir(), "history-"));
    try {
      const path = join(directory, "history.jsonl");
      await writeHistoryFile(path, history);
      assert.deepEqual(await readHistoryFile(path), parseHistory(formatHistory(history)));
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it("names the line of a malformed operation", () => {
    const good = formatHistory(history.slice(0, 1));
    const cases = [
      "not json",
      "[1]",
      '{"client":0,"op":"delete","key":"x","invokeMs":0,"completeMs":1,"outcome":"ok"}',
      '{"client":0,"op":"read","key":"x","invokeMs":0,"completeMs":1,"outcome":"ok"}',
      '{"client":0,"op":"write","key":"x","args":{"value":"1"},"invokeMs":0,"outcome":"ok"}',
      '{"client":0,"op":"write","key":"x","args":{"value":"1"},"invokeMs":5,"completeMs":1,"outcome":"ok"}',
      '{"client":0,"op":"cas","key":"x","args":{"new":"1"},"invokeMs":0,"completeMs":1,"outcome":"ok"}',
    ];
    for (const line of cases) {
      assert.throws(
        () => parseHistory(`${good}\n${line}\n`),
        (error: unknown) => error instanceof HistoryFormatError && error.lineNumber === 3,
        line,
      );
    }
  });
});
