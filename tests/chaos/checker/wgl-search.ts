// The Wing & Gong / Lowe linearizability search as porcupine runs it: walk the time-ordered entry list,
// tentatively linearize any call whose effect the model accepts, backtrack on reaching a return whose
// call is not yet linearized, and prune (linearized set, state) pairs already explored.
import { Bitset } from "./bitset.ts";
import { EntryList, NO_ENTRY, type TimedOperation } from "./entry-list.ts";
import { IMPOSSIBLE, type Model } from "./model.ts";

export interface SearchOperation<Operation> extends TimedOperation {
  readonly operation: Operation;
  /**
   * True for an operation with an unknown outcome: it may be linearized anywhere after its invoke or
   * left out entirely. Its returnMs must be Infinity.
   */
  readonly optional: boolean;
}

export type SearchResult<State, Operation> =
  | { readonly kind: "linearizable"; readonly steps: number }
  | {
      readonly kind: "not-linearizable";
      readonly steps: number;
      /** The longest sequence of operations the search could linearize, in linearization order. */
      readonly longestPrefix: readonly Operation[];
      readonly stateAfterPrefix: State;
      /** An operation whose return was reached while it could not be placed after that prefix. */
      readonly unplaceable: Operation;
    }
  | { readonly kind: "budget-exceeded"; readonly steps: number };

interface CacheEntry<State> {
  readonly linearized: Bitset;
  readonly state: State;
}

interface Frame<State> {
  readonly call: number;
  readonly stateBefore: State;
}

export function searchLinearization<State, Operation>(
  model: Model<State, Operation>,
  operations: readonly SearchOperation<Operation>[],
  maxSteps: number,
): SearchResult<State, Operation> {
  const search = new Search(model, operations);
  return search.run(maxSteps);
}

class Search<State, Operation> {
  private readonly list: EntryList;
  private readonly linearized: Bitset;
  private readonly cache = new Map<number, CacheEntry<State>[]>();
  private readonly stack: Frame<State>[] = [];
  private linearizedHash = 0;
  private state: State;
  private requiredLeft: number;
  private bestDepth = 0;
  private stuck:
    | { readonly prefix: readonly Operation[]; readonly state: State; readonly operation: Operation }
    | undefined;

  constructor(
    private readonly model: Model<State, Operation>,
    private readonly operations: readonly SearchOperation<Operation>[],
  ) {
    this.list = new EntryList(operations);
    this.linearized = Bitset.ofSize(operations.length);
    this.state = model.initialState;
    this.requiredLeft = operations.filter((operation) => !operation.optional).length;
  }

  run(maxSteps: number): SearchResult<State, Operation> {
    let entry = this.list.first();
    let steps = 0;
    while (this.requiredLeft > 0) {
      if (++steps > maxSteps) return { kind: "budget-exceeded", steps: maxSteps };
      // Every required return is finite and so precedes the optional returns at Infinity: while a
      // required operation is left, the walk meets its return before running off the list.
      if (entry === NO_ENTRY) throw new Error("linearizability search walked past the last entry");
      if (this.list.isCall(entry)) {
        entry = this.tryLinearize(entry) ? this.list.first() : this.list.following(entry);
        continue;
      }
      this.noteStuck(entry);
      const frame = this.stack.pop();
      if (frame === undefined) return this.failure(steps);
      entry = this.list.following(this.undo(frame));
    }
    return { kind: "linearizable", steps };
  }

  private tryLinearize(call: number): boolean {
    const index = this.list.operationOf(call);
    const next = this.model.step(this.state, this.operations[index]!.operation);
    if (next === IMPOSSIBLE) return false;
    this.linearized.set(index);
    this.linearizedHash ^= zobrist(index);
    if (!this.remember(next)) {
      this.linearized.clear(index);
      this.linearizedHash ^= zobrist(index);
      return false;
    }
    this.stack.push({ call, stateBefore: this.state });
    this.state = next;
    if (!this.operations[index]!.optional) this.requiredLeft--;
    this.list.lift(call);
    if (this.stack.length > this.bestDepth) {
      this.bestDepth = this.stack.length;
      this.stuck = undefined;
    }
    return true;
  }

  /** Returns the undone call entry. */
  private undo(frame: Frame<State>): number {
    const index = this.list.operationOf(frame.call);
    this.list.unlift(frame.call);
    this.linearized.clear(index);
    this.linearizedHash ^= zobrist(index);
    this.state = frame.stateBefore;
    if (!this.operations[index]!.optional) this.requiredLeft++;
    return frame.call;
  }

  /** Adds (linearized set, state) to the cache; false when that configuration was already explored. */
  private remember(state: State): boolean {
    const key = (this.linearizedHash ^ Math.imul(this.model.hash(state), 0x9e3779b1)) >>> 0;
    const bucket = this.cache.get(key);
    const entry = { linearized: this.linearized.clone(), state };
    if (bucket === undefined) {
      this.cache.set(key, [entry]);
      return true;
    }
    for (const seen of bucket) {
      if (this.model.equal(seen.state, state) && seen.linearized.equals(this.linearized)) return false;
    }
    bucket.push(entry);
    return true;
  }

  /** The first dead end met at the deepest point reached explains the failure best. */
  private noteStuck(returnEntry: number): void {
    if (this.stuck !== undefined || this.stack.length !== this.bestDepth) return;
    this.stuck = {
      prefix: this.stack.map((frame) => this.operations[this.list.operationOf(frame.call)]!.operation),
      state: this.state,
      operation: this.operations[this.list.operationOf(returnEntry)]!.operation,
    };
  }

  private failure(steps: number): SearchResult<State, Operation> {
    const stuck = this.stuck!;
    return {
      kind: "not-linearizable",
      steps,
      longestPrefix: stuck.prefix,
      stateAfterPrefix: stuck.state,
      unplaceable: stuck.operation,
    };
  }
}

/** A fixed pseudo-random 32-bit value per operation, XORed together into the linearized set's hash. */
function zobrist(index: number): number {
  let hash = Math.imul(index + 1, 0x9e3779b1);
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}
