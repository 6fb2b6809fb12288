/**
 * The checker on hand-made histories: each invariant must reject a history that breaks it and accept
 * its correct twin. Complements bug-injection.test.ts, whose raft bugs only break some of them.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Entry, EntryType } from "#raft";
import { EMPTY_LOG_HASH, extendHash } from "./entry-hash.ts";
import { InvariantChecker, type InvariantName, InvariantViolation } from "./invariants.ts";

function entry(index: number, term: number, byte = index): Entry {
  return { index, term, type: EntryType.Normal, data: new Uint8Array([byte]) };
}

/** A checker with nodes 1..count holding empty logs. */
function checkerWith(count: number): InvariantChecker {
  const checker = new InvariantChecker();
  for (let node = 1; node <= count; node++) checker.resetLog(node, 0, 0, EMPTY_LOG_HASH, "restarted");
  return checker;
}

function chainOf(entries: readonly Entry[]): number {
  return entries.reduce((hash, next) => extendHash(hash, next), EMPTY_LOG_HASH);
}

function assertViolation(invariant: InvariantName, action: () => void): void {
  assert.throws(
    action,
    (error: unknown) => error instanceof InvariantViolation && error.invariant === invariant,
  );
}

test("election safety: a second leader in a term is a violation, the same one again is not", () => {
  const checker = checkerWith(2);
  checker.becameLeader(1, 3);
  checker.becameLeader(1, 3);
  checker.becameLeader(2, 4);
  assertViolation("election-safety", () => checker.becameLeader(2, 3));
});

test("one vote per term: voting twice for different candidates is a violation", () => {
  const checker = checkerWith(3);
  checker.voteGranted(1, 5, 2);
  checker.voteGranted(1, 5, 2);
  checker.voteGranted(1, 6, 3);
  assertViolation("one-vote-per-term", () => checker.voteGranted(1, 5, 3));
});

test("log matching: the same (index, term) after different prefixes is a violation", () => {
  const checker = checkerWith(2);
  checker.entriesAppended(1, [entry(1, 1), entry(2, 1)], 0);
  checker.entriesAppended(2, [entry(1, 1), entry(2, 1)], 0);
  assertViolation("log-matching", () => checker.entriesAppended(2, [entry(2, 1, 99)], 0));
});

test("log shape: a gap in the log and a term going down are violations", () => {
  const checker = checkerWith(1);
  checker.entriesAppended(1, [entry(1, 2)], 0);
  assertViolation("log-shape", () => checker.entriesAppended(1, [entry(3, 2)], 0));
  assertViolation("log-shape", () => checker.entriesAppended(1, [entry(2, 1)], 0));
});

test("a node may overwrite uncommitted entries but not committed ones", () => {
  const checker = checkerWith(1);
  checker.entriesAppended(1, [entry(1, 1), entry(2, 1), entry(3, 1)], 0);
  checker.entriesAppended(1, [entry(3, 2)], 2);
  assertViolation("committed-truncated", () => checker.entriesAppended(1, [entry(2, 3)], 2));
});

test("committed entries never change: a commit index and an applied entry must match the committed log", () => {
  const checker = checkerWith(2);
  const first = [entry(1, 1), entry(2, 1)];
  checker.entriesAppended(1, first, 0);
  checker.commitAdvanced(1, 1, 2);
  checker.entriesAppended(2, [entry(1, 1), entry(2, 2, 7)], 0);
  assertViolation("committed-changed", () => checker.commitAdvanced(2, 2, 2));
  checker.applied(1, 2, chainOf(first));
  assertViolation("state-machine-safety", () =>
    checker.applied(2, 2, chainOf([entry(1, 1), entry(2, 2, 7)])),
  );
});

test("leader completeness: a leader must hold what was committed in earlier terms", () => {
  const checker = checkerWith(3);
  checker.entriesAppended(1, [entry(1, 1), entry(2, 1)], 0);
  checker.commitAdvanced(1, 1, 2);
  checker.entriesAppended(2, [entry(1, 1), entry(2, 1)], 0);
  checker.becameLeader(2, 2);
  checker.entriesAppended(3, [entry(1, 1)], 0);
  assertViolation("leader-completeness", () => checker.becameLeader(3, 3));
});

test("durability: a node must still hold the vote and the entries it promised after a restart", () => {
  const checker = checkerWith(1);
  checker.entriesAppended(1, [entry(1, 1), entry(2, 1)], 0);
  checker.appendAcknowledged(1, 2, 1, 1);
  checker.voteGranted(1, 1, 2);
  checker.resetLog(1, 0, 0, EMPTY_LOG_HASH, "restarted");
  checker.entriesAppended(1, [entry(1, 1), entry(2, 1)], 0);
  checker.restarted(1, 1, 2);
  assertViolation("durability", () => checker.restarted(1, 1, 3));
  checker.resetLog(1, 0, 0, EMPTY_LOG_HASH, "restarted");
  checker.entriesAppended(1, [entry(1, 1)], 0);
  assertViolation("durability", () => checker.restarted(1, 1, 2));
});

test("durability: entries a newer leader overwrote are no longer promised", () => {
  const checker = checkerWith(1);
  checker.entriesAppended(1, [entry(1, 1), entry(2, 1)], 0);
  checker.appendAcknowledged(1, 2, 1, 1);
  checker.entriesAppended(1, [entry(2, 2)], 1);
  checker.resetLog(1, 0, 0, EMPTY_LOG_HASH, "restarted");
  checker.entriesAppended(1, [entry(1, 1)], 0);
  checker.restarted(1, 2, 0);
});

test("linearizable reads: a read index below what was committed before the request is stale", () => {
  const checker = checkerWith(1);
  checker.entriesAppended(1, [entry(1, 1), entry(2, 1), entry(3, 1)], 0);
  checker.commitAdvanced(1, 1, 2);
  checker.readRequested(7, 1);
  checker.commitAdvanced(1, 1, 3);
  checker.readAnswered(7, 1, 2);
  checker.readRequested(8, 1);
  assertViolation("linearizable-read", () => checker.readAnswered(8, 1, 2));
});
