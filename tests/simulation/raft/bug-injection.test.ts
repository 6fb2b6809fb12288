/**
 * Proves the checker: with each of the raft core's injectable bugs switched on, the simulation must
 * report a violation of one of its own invariants within the CI seed budget — a checker that catches
 * nothing proves nothing. A second round leaves out the checks of what nodes promise on the wire and
 * requires the end-to-end invariants alone (election safety, leader completeness, …) to catch the bugs
 * whose damage they can see. Seeds are fixed so the proof does not depend on luck from run to run.
 *
 * Not in the second round: answerBeforePersist. A follower that forgets entries it acknowledged usually
 * trips the raft core's own assertion first ("commit is past the last index": the leader tells it that
 * entries it no longer has are committed), which ends the run before an end-to-end invariant can break.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { INJECTED_BUGS, type InjectedBug } from "#raft/testing";
import { runSimulation, SimulationFailure } from "./simulation.ts";

const FIRST_SEED = 1;
const MAX_SEEDS = 300;
// Long runs: a Figure 8 history needs several leadership changes in a row to line up.
const STEPS = 1000;

interface Hunt {
  readonly caught: SimulationFailure | undefined;
  readonly seedsRun: number;
  /** Seeds ended by the raft core's own assertions, which do not count as the checker's catch. */
  readonly coreErrors: number;
}

function hunt(bug: InjectedBug, endToEndOnly: boolean): Hunt {
  let coreErrors = 0;
  for (let seed = FIRST_SEED; seed < FIRST_SEED + MAX_SEEDS; seed++) {
    try {
      runSimulation({ seed, steps: STEPS, injectedBug: bug, endToEndOnly, traceCapacity: 0 });
    } catch (error) {
      if (!(error instanceof SimulationFailure)) throw error;
      if (!error.invariant.startsWith("raft-core-error"))
        return { caught: error, seedsRun: seed - FIRST_SEED + 1, coreErrors };
      coreErrors++;
    }
  }
  return { caught: undefined, seedsRun: MAX_SEEDS, coreErrors };
}

function assertCaught(bug: InjectedBug, endToEndOnly: boolean): void {
  const { caught, seedsRun, coreErrors } = hunt(bug, endToEndOnly);
  const checks = endToEndOnly ? "end-to-end invariants" : "checker";
  assert.ok(
    caught !== undefined,
    `${bug} was not caught by the ${checks} within ${MAX_SEEDS} seeds (${coreErrors} raft core errors)`,
  );
  assert.notEqual(
    caught.invariant,
    "liveness",
    `${bug} was only noticed as a liveness failure: ${caught.message}`,
  );
  console.log(
    `${bug} (${checks}): caught after ${seedsRun} seeds by seed ${caught.seed} at step ${caught.step}: ` +
      `${caught.invariant}: ${caught.detail}\n  replay: ${caught.replayCommand}`,
  );
}

for (const bug of INJECTED_BUGS) {
  test(`the checker catches the injected bug ${bug}`, () => assertCaught(bug, false));
}

for (const bug of INJECTED_BUGS.filter((bug) => bug !== "answerBeforePersist")) {
  test(`the end-to-end invariants alone catch the injected bug ${bug}`, () => assertCaught(bug, true));
}
