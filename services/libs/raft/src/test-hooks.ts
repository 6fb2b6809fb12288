/**
 * Switches that inject known raft bugs, for tests only: a simulation turns one on and must then catch the
 * resulting safety violation. All default off and are read at the few places they affect. The object is
 * shared by every node in the process.
 */
export interface RaftTestHooks {
  /** The leader commits entries of older terms by counting replicas (the raft paper's Figure 8 bug). */
  commitPreviousTermByCounting: boolean;
  /** A node grants a vote although it already voted for another candidate in the same term. */
  grantSecondVoteInTerm: boolean;
  /** Followers' responses go into `messages` (sent at once) instead of waiting for persistence. */
  answerBeforePersist: boolean;
}

export const testHooks: RaftTestHooks = {
  commitPreviousTermByCounting: false,
  grantSecondVoteInTerm: false,
  answerBeforePersist: false,
};

export function resetTestHooks(): void {
  testHooks.commitPreviousTermByCounting = false;
  testHooks.grantSecondVoteInTerm = false;
  testHooks.answerBeforePersist = false;
}
