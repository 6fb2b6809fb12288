import type { InjectedBug } from "../injected-bug.ts";

// A record, so adding a bug to the type without listing it here fails to compile.
const KNOWN: Readonly<Record<InjectedBug, true>> = {
  commitPreviousTermByCounting: true,
  grantSecondVoteInTerm: true,
  answerBeforePersist: true,
};

/** Every bug a node can be built with, for command lines and tests that name one. */
export const INJECTED_BUGS = Object.keys(KNOWN) as readonly InjectedBug[];

export function isInjectedBug(name: string): name is InjectedBug {
  return Object.hasOwn(KNOWN, name);
}
