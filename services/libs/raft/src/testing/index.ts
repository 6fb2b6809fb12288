/**
 * Test support of the raft library, for its own tests and the raft simulation (`#raft/testing`). Nothing
 * outside `testing/` and the test files imports it.
 */
export type { InjectedBug } from "../injected-bug.ts";
export { INJECTED_BUGS, isInjectedBug } from "./injected-bugs.ts";
