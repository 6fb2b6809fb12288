// A single read/write/compare-and-swap register whose initial value is "absent".
import { formatValue, type RegisterOperation, type RegisterValue } from "../history/operation.ts";
import { IMPOSSIBLE, type Model } from "./model.ts";

const ABSENT_HASH = 0x9e3779b9;

export const registerModel: Model<RegisterValue, RegisterOperation> = {
  initialState: null,

  step(state, operation) {
    switch (operation.op) {
      case "read":
        // An unknown read carries no result and constrains nothing; the checker drops those beforehand.
        return operation.result === state ? state : IMPOSSIBLE;
      case "write":
        return operation.args.value;
      case "cas":
        return operation.args.expected === state ? operation.args.new : IMPOSSIBLE;
    }
  },

  equal: (left, right) => left === right,

  hash(state) {
    if (state === null) return ABSENT_HASH;
    // FNV-1a over UTF-16 code units.
    let hash = 0x811c9dc5;
    for (let index = 0; index < state.length; index++) {
      hash = Math.imul(hash ^ state.charCodeAt(index), 0x01000193);
    }
    return hash >>> 0;
  },

  describe: (state) => formatValue(state),
};
