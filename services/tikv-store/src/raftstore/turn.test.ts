import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Turn, TurnInvariantError } from "./turn.ts";

describe("Turn", () => {
  it("lets changes through while open and refuses them once closed", () => {
    const turn = new Turn(3, 1000);
    assert.doesNotThrow(() => turn.check("a change"));
    turn.close();
    assert.equal(turn.isOpen, false);
    assert.throws(
      () => turn.check("a late change"),
      (error: unknown) => {
        assert.ok(error instanceof TurnInvariantError);
        assert.match(error.message, /a late change outside a store loop turn \(turn 3 ended\)/);
        return true;
      },
    );
  });
});
