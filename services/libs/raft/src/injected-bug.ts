/**
 * A known raft safety bug a node can be built with (`RaftConfig.injectedBugs`). Only the simulation and
 * the scenario tests set one: the checker must then report the violation it causes, or it proves nothing.
 *
 * - `commitPreviousTermByCounting`: the leader commits entries of older terms by counting replicas (the
 *   raft paper's Figure 8 bug).
 * - `grantSecondVoteInTerm`: a node grants a vote although it already voted for another candidate in the
 *   same term.
 * - `answerBeforePersist`: a follower's responses are sent at once (`messages`) instead of after its Ready
 *   is durable (`persistedMessages`).
 */
export type InjectedBug = "commitPreviousTermByCounting" | "grantSecondVoteInTerm" | "answerBeforePersist";
