import assert from "node:assert/strict";
import { test } from "node:test";
import { eraftpb } from "#proto";
import { EntryType, type Message, MessageType } from "#raft";
import { InvalidRaftMessageError, messageFromWire, messageToWire } from "./raft-message.ts";

test("a raft message survives the wire both ways", () => {
  const message: Message = {
    type: MessageType.Append,
    from: 3,
    to: 9,
    term: 12,
    logTerm: 11,
    index: 100,
    entries: [{ index: 101, term: 12, type: EntryType.ConfChange, data: Uint8Array.of(1, 2) }],
    commit: 99,
    snapshot: {
      metadata: { index: 90, term: 10, confState: { voters: [3, 9], learners: [4] } },
      data: Uint8Array.of(7),
    },
    reject: true,
    rejectHint: 42,
    context: Uint8Array.of(5),
  };
  const decoded = messageFromWire(
    eraftpb.Message.decode(eraftpb.Message.encode(messageToWire(message)).finish()),
  );
  assert.deepEqual(decoded, message);
});

test("numbers the raft core cannot hold are refused", () => {
  const wire = messageToWire({
    type: MessageType.Heartbeat,
    from: 1,
    to: 2,
    term: 1,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
  });
  assert.throws(() => messageFromWire({ ...wire, term: 1n << 60n }), InvalidRaftMessageError);
  assert.throws(
    () => messageFromWire({ ...wire, msgType: 99 as eraftpb.MessageType }),
    InvalidRaftMessageError,
  );
});
