import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkTransition,
  holdsData,
  type PeerLifecycle,
  PeerLifecycleError,
} from "./peer-lifecycle-state.ts";

const STATES: readonly PeerLifecycle[] = [
  { kind: "uninitialized" },
  { kind: "normal" },
  { kind: "applying-snapshot", initialized: true, destroyReason: undefined },
  { kind: "pending-destroy", initialized: true, reason: "removed" },
  { kind: "destroyed", reason: "removed" },
];

const LEGAL = new Set([
  "uninitialized→applying-snapshot",
  "uninitialized→pending-destroy",
  "uninitialized→destroyed",
  "normal→applying-snapshot",
  "normal→pending-destroy",
  "applying-snapshot→applying-snapshot",
  "applying-snapshot→normal",
  "applying-snapshot→pending-destroy",
  "pending-destroy→destroyed",
]);

describe("peer lifecycle", () => {
  it("allows exactly the transitions of the table", () => {
    for (const from of STATES) {
      for (const to of STATES) {
        const name = `${from.kind}→${to.kind}`;
        if (LEGAL.has(name)) assert.doesNotThrow(() => checkTransition(1n, from, to), name);
        else assert.throws(() => checkTransition(1n, from, to), PeerLifecycleError, name);
      }
    }
  });

  it("a destroyed peer never comes back", () => {
    for (const to of STATES) assert.throws(() => checkTransition(7n, STATES[4]!, to), /region 7/);
  });

  it("holds data when normal, and while applying or pending destroy only if it held data before", () => {
    assert.equal(holdsData({ kind: "normal" }), true);
    assert.equal(holdsData({ kind: "uninitialized" }), false);
    assert.equal(
      holdsData({ kind: "applying-snapshot", initialized: false, destroyReason: undefined }),
      false,
    );
    assert.equal(holdsData({ kind: "applying-snapshot", initialized: true, destroyReason: undefined }), true);
    assert.equal(holdsData({ kind: "pending-destroy", initialized: false, reason: "x" }), false);
    assert.equal(holdsData({ kind: "destroyed", reason: "x" }), false);
  });
});
