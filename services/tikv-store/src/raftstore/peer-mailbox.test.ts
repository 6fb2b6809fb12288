import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PeerMailbox } from "./peer-mailbox.ts";

describe("PeerMailbox", () => {
  it("take(n) returns the oldest n tasks and keeps the rest in order", () => {
    const mailbox = new PeerMailbox(10);
    for (let to = 1; to <= 5; to++) assert.equal(mailbox.offer({ kind: "unreachable", to }), true);
    assert.deepEqual(
      mailbox.take(2).map((task) => (task.kind === "unreachable" ? task.to : -1)),
      [1, 2],
    );
    assert.equal(mailbox.length, 3);
    assert.deepEqual(
      mailbox.take(10).map((task) => (task.kind === "unreachable" ? task.to : -1)),
      [3, 4, 5],
    );
    assert.equal(mailbox.length, 0);
  });

  it("refuses outside work when full; taking frees room; reports bypass the bound", () => {
    const mailbox = new PeerMailbox(2);
    assert.equal(mailbox.offer({ kind: "campaign" }), true);
    assert.equal(mailbox.offer({ kind: "campaign" }), true);
    assert.equal(mailbox.offer({ kind: "campaign" }), false);
    mailbox.push({ kind: "job-done", job: "split-check" });
    assert.equal(mailbox.length, 3);
    mailbox.take(1);
    assert.equal(mailbox.isFull, false);
    assert.equal(mailbox.offer({ kind: "campaign" }), true);
    // The unbounded report does not count: two bounded tasks fill the mailbox again.
    assert.equal(mailbox.isFull, true);
  });
});
