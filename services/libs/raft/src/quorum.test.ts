import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { majority, quorumValue, tallyVotes, VoteResult } from "./quorum.ts";

describe("majority", () => {
  it("is more than half", () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(majority), [1, 2, 2, 3, 3, 4, 4]);
  });
});

describe("quorumValue", () => {
  it("picks the value a majority reaches", () => {
    assert.equal(quorumValue([5, 1, 3]), 3);
    assert.equal(quorumValue([2, 9, 9, 1]), 2);
    assert.equal(quorumValue([7]), 7);
    assert.equal(quorumValue([4, 4, 4, 0, 0]), 4);
    assert.equal(quorumValue([]), 0);
  });

  it("is reached by a majority and exceeded by less than a majority", () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 100 }), { minLength: 1, maxLength: 9 }), (values) => {
        const result = quorumValue([...values]);
        const reaching = values.filter((value) => value >= result).length;
        const exceeding = values.filter((value) => value > result).length;
        assert.ok(reaching >= majority(values.length));
        assert.ok(exceeding < majority(values.length));
      }),
    );
  });
});

describe("tallyVotes", () => {
  const voters = [1, 2, 3];

  it("is pending until decided", () => {
    assert.equal(tallyVotes(voters, new Map([[1, true]])).result, VoteResult.Pending);
    assert.equal(
      tallyVotes(
        voters,
        new Map([
          [1, true],
          [2, false],
        ]),
      ).result,
      VoteResult.Pending,
    );
  });

  it("is won by a granted majority", () => {
    const tally = tallyVotes(
      voters,
      new Map([
        [1, true],
        [3, true],
      ]),
    );
    assert.deepEqual(tally, { granted: 2, rejected: 0, result: VoteResult.Won });
  });

  it("is lost once a majority is out of reach", () => {
    const tally = tallyVotes(
      voters,
      new Map([
        [2, false],
        [3, false],
      ]),
    );
    assert.equal(tally.result, VoteResult.Lost);
  });

  it("ignores votes from non-voters", () => {
    const tally = tallyVotes(
      voters,
      new Map([
        [1, true],
        [7, true],
        [8, true],
      ]),
    );
    assert.deepEqual(tally, { granted: 1, rejected: 0, result: VoteResult.Pending });
  });
});
