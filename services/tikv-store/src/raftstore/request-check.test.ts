import assert from "node:assert/strict";
import { test } from "node:test";
import { metapb } from "#proto";
import { DATA_COMMAND_EPOCH_CHECK } from "./region-epoch.ts";
import {
  EpochNotMatchError,
  KeyNotInRegionError,
  MismatchPeerIdError,
  NotLeaderError,
  RegionNotFoundError,
  RegionNotInitializedError,
  StaleCommandError,
  StoreNotMatchError,
} from "./region-errors.ts";
import {
  checkRequest,
  type RequestChecks,
  type RequestContext,
  type RequestPeerView,
} from "./request-check.ts";

const text = (value: string): Uint8Array => new TextEncoder().encode(value);

const REGION = metapb.Region.fromPartial({
  id: 5n,
  startKey: text("b"),
  endKey: text("m"),
  regionEpoch: { confVer: 2n, version: 3n },
  peers: [
    { id: 51n, storeId: 1n },
    { id: 52n, storeId: 2n },
  ],
});

function peer(overrides: Partial<RequestPeerView> = {}): RequestPeerView {
  return {
    meta: REGION.peers[0]!,
    region: REGION,
    initialized: true,
    isGoingAway: false,
    isLeader: true,
    term: 7,
    leaderPeer: () => REGION.peers[1],
    ...overrides,
  };
}

const CONTEXT: RequestContext = {
  regionId: 5n,
  regionEpoch: { confVer: 2n, version: 3n },
  peer: REGION.peers[0],
  term: 7n,
};

const WRITE: RequestChecks = {
  epoch: DATA_COMMAND_EPOCH_CHECK,
  keys: { kind: "keys", keys: [text("c")] },
  allowFollower: false,
};

const siblings = { currentRegions: (region: metapb.Region) => [region] };

function check(
  view: RequestPeerView | undefined,
  context: Partial<RequestContext> = {},
  checks: Partial<RequestChecks> = {},
): RequestPeerView {
  return checkRequest(1n, view, { ...CONTEXT, ...context }, { ...WRITE, ...checks }, siblings);
}

test("a request that passes every check gets the peer back", () => {
  const view = peer();
  assert.equal(check(view), view);
  // Zero (or absent) store, peer and term mean the client did not say: unchecked.
  assert.equal(check(view, { peer: undefined, term: 0n }), view);
});

test("each refusal, as the store's typed region error", () => {
  assert.throws(() => check(peer(), { peer: { ...REGION.peers[1]!, storeId: 9n } }), StoreNotMatchError);
  assert.throws(() => check(undefined), RegionNotFoundError);
  assert.throws(() => check(peer({ isGoingAway: true })), RegionNotFoundError);
  assert.throws(() => check(peer({ initialized: false })), RegionNotInitializedError);
  assert.throws(() => check(peer(), { peer: { id: 99n, storeId: 1n, role: 0 } }), MismatchPeerIdError);
  assert.throws(
    () => check(peer({ isLeader: false })),
    (error: unknown) => error instanceof NotLeaderError && error.leader?.id === 52n,
  );
  assert.throws(() => check(peer(), { term: 6n }), StaleCommandError);
  assert.throws(() => check(peer(), { regionEpoch: { confVer: 2n, version: 2n } }), EpochNotMatchError);
  assert.throws(() => check(peer(), {}, { keys: { kind: "keys", keys: [text("x")] } }), KeyNotInRegionError);
});

test("the first failing check wins, in the store's order", () => {
  // Everything is wrong at once: the store mismatch is reported first.
  const everything = { peer: { id: 99n, storeId: 9n, role: 0 }, term: 1n, regionEpoch: undefined };
  assert.throws(() => check(peer({ isLeader: false, initialized: false }), everything), StoreNotMatchError);
  // Leadership comes before the term and the epoch, which come before the keys.
  const stale = { term: 1n, regionEpoch: { confVer: 1n, version: 1n } };
  assert.throws(() => check(peer({ isLeader: false }), stale), NotLeaderError);
  assert.throws(() => check(peer(), stale), StaleCommandError);
  assert.throws(
    () =>
      check(
        peer(),
        { regionEpoch: { confVer: 2n, version: 1n } },
        { keys: { kind: "keys", keys: [text("x")] } },
      ),
    EpochNotMatchError,
  );
});

test("a replica read may be served by a follower; a data command ignores the conf version", () => {
  const follower = peer({ isLeader: false });
  assert.equal(check(follower, {}, { allowFollower: true }), follower);
  const leader = peer();
  assert.equal(check(leader, { regionEpoch: { confVer: 1n, version: 3n } }), leader);
});

test("scan anchors: a forward scan starts in the region, a reverse scan's exclusive end lies above its start", () => {
  const scan = (key: string, reverse: boolean) => () =>
    check(peer(), {}, { keys: { kind: "scan", key: text(key), reverse } });
  assert.doesNotThrow(scan("c", false));
  assert.throws(scan("m", false), KeyNotInRegionError);
  assert.doesNotThrow(scan("m", true));
  assert.throws(scan("b", true), KeyNotInRegionError);
  assert.throws(() => check(peer(), {}, { keys: { kind: "scan", key: new Uint8Array(), reverse: true } }));
  assert.throws(
    () => check(peer(), {}, { keys: { kind: "range", startKey: text("c"), endKey: text("z") } }),
    KeyNotInRegionError,
  );
});
