import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { keyHash } from "./key-hash.ts";

/** FNV-1a 64 straight from its definition, in bigint arithmetic. */
function referenceHash(key: Uint8Array): bigint {
  let hash = 0xcbf29ce484222325n;
  for (const byte of key) hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return hash;
}

describe("keyHash", () => {
  it("matches the published FNV-1a 64 vectors", () => {
    assert.equal(keyHash(new Uint8Array()), 0xcbf29ce484222325n);
    assert.equal(keyHash(Buffer.from("a")), 0xaf63dc4c8601ec8cn);
    assert.equal(keyHash(Buffer.from("foobar")), 0x85944171f73967e8n);
  });

  it("equals the bigint definition on any key (fast-check prints the seed of a failure)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (key) => {
        assert.equal(keyHash(key), referenceHash(key));
      }),
      { numRuns: 1_000 },
    );
  });
});
