import type { NodeId } from "./types.ts";

/** Smallest number of voters that forms a majority. */
export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The largest value that a majority of `values` reach or exceed: for match indexes, the index replicated on
 * a quorum. Sorts `values` in place (callers pass a scratch array). Zero voters give 0: nothing is decided
 * by an empty quorum.
 */
export function quorumValue(values: number[]): number {
  const count = values.length;
  if (count === 0) return 0;
  // Insertion sort, descending: voter sets are small and this allocates nothing.
  for (let i = 1; i < count; i++) {
    const value = values[i]!;
    let j = i - 1;
    while (j >= 0 && values[j]! < value) {
      values[j + 1] = values[j]!;
      j--;
    }
    values[j + 1] = value;
  }
  return values[majority(count) - 1]!;
}

export enum VoteResult {
  Pending,
  Won,
  Lost,
}

export interface VoteTally {
  readonly granted: number;
  readonly rejected: number;
  readonly result: VoteResult;
}

/** Counts the votes of `voters` (others are ignored): won on a granted majority, lost once impossible. */
export function tallyVotes(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteTally {
  let granted = 0;
  let rejected = 0;
  for (const voter of voters) {
    const vote = votes.get(voter);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const needed = majority(voters.length);
  let result = VoteResult.Pending;
  if (granted >= needed) result = VoteResult.Won;
  else if (voters.length - rejected < needed) result = VoteResult.Lost;
  return { granted, rejected, result };
}
