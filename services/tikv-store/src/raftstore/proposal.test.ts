import assert from "node:assert/strict";
import { test } from "node:test";
import { type CommandOutcome, Proposal, ProposalInvariantError, ProposalQueue } from "./proposal.ts";

function proposal(id: number, index: number, term: number, answers: Map<number, CommandOutcome>): Proposal {
  const created = new Proposal(BigInt(id), (outcome) => answers.set(id, outcome));
  created.index = index;
  created.term = term;
  return created;
}

test("the entry at a proposal's (index, term) finds it; older unmatched proposals are stale", () => {
  const answers = new Map<number, CommandOutcome>();
  const queue = new ProposalQueue();
  queue.push(proposal(1, 10, 2, answers));
  queue.push(proposal(2, 11, 2, answers));
  queue.push(proposal(3, 12, 2, answers));
  // Entry 10 was overwritten by another leader (term 3): proposal 1 can never apply.
  const first = queue.take(10, 3);
  assert.equal(first.match, undefined);
  assert.deepEqual(
    first.stale.map((stale) => stale.id),
    [1n, 2n, 3n],
  );
  assert.equal(queue.length, 0);
});

test("matching leaves later proposals waiting", () => {
  const answers = new Map<number, CommandOutcome>();
  const queue = new ProposalQueue();
  queue.push(proposal(1, 5, 1, answers));
  queue.push(proposal(2, 6, 1, answers));
  assert.equal(queue.take(4, 1).match, undefined);
  assert.equal(queue.length, 2);
  assert.equal(queue.take(5, 1).match?.id, 1n);
  assert.equal(queue.take(6, 1).match?.id, 2n);
  assert.equal(queue.length, 0);
});

test("proposals of a later term wait for entries of that term", () => {
  const answers = new Map<number, CommandOutcome>();
  const queue = new ProposalQueue();
  queue.push(proposal(1, 20, 4, answers));
  const lookup = queue.take(19, 3);
  assert.equal(lookup.match, undefined);
  assert.equal(lookup.stale.length, 0);
  assert.equal(queue.length, 1);
});

test("a proposal is answered exactly once and the queue refuses out-of-order pushes", () => {
  const answers = new Map<number, CommandOutcome>();
  const queue = new ProposalQueue();
  const first = proposal(1, 7, 1, answers);
  queue.push(first);
  assert.throws(() => queue.push(proposal(2, 7, 1, answers)), ProposalInvariantError);
  first.fail(new Error("gone"));
  assert.equal(answers.get(1)?.ok, false);
  assert.throws(() => first.fail(new Error("again")), ProposalInvariantError);
  assert.deepEqual(
    queue.drain().map((drained) => drained.id),
    [1n],
  );
});

test("many takes keep the queue compact and in order", () => {
  const answers = new Map<number, CommandOutcome>();
  const queue = new ProposalQueue();
  for (let index = 1; index <= 5000; index++) queue.push(proposal(index, index, 1, answers));
  for (let index = 1; index <= 4990; index++) assert.equal(queue.take(index, 1).match?.id, BigInt(index));
  assert.deepEqual(
    queue.drain().map((drained) => Number(drained.id)),
    [4991, 4992, 4993, 4994, 4995, 4996, 4997, 4998, 4999, 5000],
  );
});
