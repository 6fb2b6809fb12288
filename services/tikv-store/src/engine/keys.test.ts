import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { compareBytes } from "#codec";
import {
  applyStateKey,
  isDataKeyInRange,
  isInSpan,
  KeyFormatError,
  parseRaftLogKey,
  parseRegionMetaKey,
  REGION_META_SPAN,
  raftLogKey,
  raftLogSpan,
  raftStateKey,
  rawDataKey,
  rawDataSpan,
  rawUserKey,
  regionRaftSpan,
  regionStateKey,
  STORE_IDENT_KEY,
  txnDataKey,
  txnDataSpan,
  txnEncodedKey,
} from "./keys.ts";

const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const hexOf = (value: Uint8Array): string => Buffer.from(value).toString("hex");
const regionIds = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const indexes = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

describe("data keys", () => {
  it("raw keys are z r + user key and parse back", () => {
    assert.equal(hexOf(rawDataKey(text("a"))), "7a7261");
    fc.assert(
      fc.property(fc.uint8Array(), (userKey) => {
        assert.deepEqual(rawUserKey(rawDataKey(userKey)), userKey);
      }),
    );
  });

  it("txn keys are z x + encoded key and parse back", () => {
    assert.equal(hexOf(txnDataKey(Uint8Array.of(1, 2))), "7a780102");
    assert.deepEqual(txnEncodedKey(txnDataKey(Uint8Array.of(1, 2))), Uint8Array.of(1, 2));
  });

  it("rejects keys of the other space with the key in the message", () => {
    assert.throws(() => rawUserKey(txnDataKey(text("a"))), /7a7861 is not a raw data key/);
    assert.throws(() => txnEncodedKey(rawDataKey(text("a"))), KeyFormatError);
    assert.throws(() => rawUserKey(new Uint8Array(0)), /\(empty\) is not a raw data key/);
  });

  it("an unbounded raw range ends where the raw space ends, before the txn space", () => {
    const span = rawDataSpan(new Uint8Array(0), new Uint8Array(0));
    assert.equal(hexOf(span.start), "7a72");
    assert.equal(hexOf(span.end!), "7a73");
    assert.ok(isInSpan(rawDataKey(Uint8Array.of(0xff, 0xff, 0xff)), span));
    assert.ok(!isInSpan(txnDataKey(Uint8Array.of(0)), span));
  });

  it("a raw key is in a region's data range exactly when the user key is in the region", () => {
    fc.assert(
      fc.property(fc.uint8Array(), fc.uint8Array(), fc.uint8Array(), (key, start, end) => {
        const inRegion = compareBytes(key, start) >= 0 && (end.length === 0 || compareBytes(key, end) < 0);
        assert.equal(isInSpan(rawDataKey(key), rawDataSpan(start, end)), inRegion);
        assert.equal(isDataKeyInRange(rawDataKey(key), start, end), inRegion);
      }),
    );
  });

  it("txn keys with any ts suffix fall in the region that holds their user key", () => {
    const encode = (key: Uint8Array, ts: number): Uint8Array => {
      const span = txnDataSpan(key, new Uint8Array(0));
      const suffix = Buffer.alloc(8);
      suffix.writeBigUInt64BE(BigInt(ts));
      return Uint8Array.from([...span.start, ...suffix]);
    };
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1 }),
        fc.uint8Array(),
        fc.uint8Array(),
        fc.nat(),
        (key, start, end, ts) => {
          const inRegion = compareBytes(key, start) >= 0 && (end.length === 0 || compareBytes(key, end) < 0);
          assert.equal(isInSpan(encode(key, ts), txnDataSpan(start, end)), inRegion);
          assert.equal(isDataKeyInRange(encode(key, ts), start, end), inRegion);
        },
      ),
    );
  });

  it("an unbounded txn range ends where the txn space ends", () => {
    const span = txnDataSpan(new Uint8Array(0), new Uint8Array(0));
    assert.equal(hexOf(span.start), "7a78");
    assert.equal(hexOf(span.end!), "7a79");
  });
});

describe("region meta keys", () => {
  it("have the contract's layout", () => {
    assert.equal(hexOf(STORE_IDENT_KEY), "0101");
    assert.equal(hexOf(regionStateKey(0x0102n)), "0103000000000000010201");
    assert.equal(hexOf(applyStateKey(0x0102n)), "0103000000000000010202");
  });

  it("parse back and lie inside the region meta span", () => {
    fc.assert(
      fc.property(regionIds, (regionId) => {
        assert.deepEqual(parseRegionMetaKey(regionStateKey(regionId)), { regionId, kind: "region-state" });
        assert.deepEqual(parseRegionMetaKey(applyStateKey(regionId)), { regionId, kind: "apply-state" });
        assert.ok(isInSpan(regionStateKey(regionId), REGION_META_SPAN));
        assert.ok(isInSpan(applyStateKey(regionId), REGION_META_SPAN));
      }),
    );
  });

  it("sort by region id, so one region's keys sit together", () => {
    fc.assert(
      fc.property(regionIds, regionIds, (left, right) => {
        fc.pre(left !== right);
        const order = left < right ? -1 : 1;
        assert.equal(compareBytes(applyStateKey(left), regionStateKey(right)), order);
        assert.equal(compareBytes(regionStateKey(left), applyStateKey(right)), order);
      }),
    );
  });

  it("reject other keys clearly", () => {
    assert.throws(() => parseRegionMetaKey(STORE_IDENT_KEY), /0101 is not a region meta key/);
    assert.throws(() => parseRegionMetaKey(raftStateKey(1n)), KeyFormatError);
    const badSuffix = regionStateKey(1n);
    badSuffix[10] = 9;
    assert.throws(() => parseRegionMetaKey(badSuffix), KeyFormatError);
  });

  it("refuse region ids outside uint64", () => {
    assert.throws(() => regionStateKey(-1n), /not a uint64/);
    assert.throws(() => raftStateKey(1n << 64n), /not a uint64/);
  });
});

describe("raft engine keys", () => {
  it("have the contract's layout", () => {
    assert.equal(hexOf(raftLogKey(2n, 0x0304)), "01020000000000000002010000000000000304");
    assert.equal(hexOf(raftStateKey(2n)), "0102000000000000000202");
  });

  it("parse back region id and index, up to the largest safe index", () => {
    fc.assert(
      fc.property(regionIds, indexes, (regionId, index) => {
        assert.deepEqual(parseRaftLogKey(raftLogKey(regionId, index)), { regionId, index });
      }),
    );
  });

  it("sort a region's log by index, before its raft state, and regions by id", () => {
    fc.assert(
      fc.property(regionIds, indexes, indexes, (regionId, left, right) => {
        const expected = Math.sign(left - right);
        assert.equal(compareBytes(raftLogKey(regionId, left), raftLogKey(regionId, right)), expected);
        assert.equal(compareBytes(raftLogKey(regionId, left), raftStateKey(regionId)), -1);
      }),
    );
    fc.assert(
      fc.property(regionIds, regionIds, indexes, (left, right, index) => {
        fc.pre(left < right);
        assert.equal(compareBytes(raftStateKey(left), raftLogKey(right, index)), -1);
      }),
    );
  });

  it("spans cover exactly the asked entries and one region's keys", () => {
    const span = raftLogSpan(5n, 10, 20);
    assert.ok(isInSpan(raftLogKey(5n, 10), span));
    assert.ok(isInSpan(raftLogKey(5n, 19), span));
    assert.ok(!isInSpan(raftLogKey(5n, 20), span));
    assert.ok(!isInSpan(raftLogKey(5n, 9), span));
    const open = raftLogSpan(5n, 10);
    assert.ok(isInSpan(raftLogKey(5n, Number.MAX_SAFE_INTEGER), open));
    assert.ok(!isInSpan(raftStateKey(5n), open));
    const whole = regionRaftSpan(5n);
    assert.ok(isInSpan(raftStateKey(5n), whole) && isInSpan(raftLogKey(5n, 0), whole));
    assert.ok(!isInSpan(raftStateKey(6n), whole) && !isInSpan(raftStateKey(4n), whole));
    assert.equal(hexOf(regionRaftSpan((1n << 64n) - 1n).end!), "0103");
  });

  it("rejects malformed log keys and unsafe indexes", () => {
    assert.throws(() => parseRaftLogKey(raftStateKey(1n)), /is not a raft log key/);
    assert.throws(() => parseRaftLogKey(raftLogKey(1n, 1).subarray(0, 18)), KeyFormatError);
    const huge = raftLogKey(1n, 0);
    huge.fill(0xff, 11);
    assert.throws(() => parseRaftLogKey(huge), /index/);
    assert.throws(() => raftLogKey(1n, -1), /not a non-negative safe integer/);
    assert.throws(() => raftLogKey(1n, 1.5), /not a non-negative safe integer/);
  });
});
