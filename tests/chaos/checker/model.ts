// The sequential specification a linearizability search checks a history against.

/** Returned by `Model.step` when the operation cannot take effect in the given state. */
export const IMPOSSIBLE: unique symbol = Symbol("impossible");

export interface Model<State, Operation> {
  readonly initialState: State;
  /** The state after `operation` takes effect in `state`, or IMPOSSIBLE if its recorded result rules that out. */
  step(state: State, operation: Operation): State | typeof IMPOSSIBLE;
  equal(left: State, right: State): boolean;
  /** Any 32-bit hash consistent with `equal`; it only spreads the search cache. */
  hash(state: State): number;
  describe(state: State): string;
}
