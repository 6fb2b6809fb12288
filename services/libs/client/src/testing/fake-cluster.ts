/**
 * Test-only: a pd (as the region cache sees it) and N stores over real gRPC, modelled just far enough to
 * answer raw requests the way real stores do: regions with epochs and leaders, one shared data map (every
 * replica always up to date), and the store's own request checks (tikv-store's request-check.ts, answered
 * through the store server's errorpb mapping), so a refusal here is the one a real store would send. Tests
 * move leaders, split regions, let pd lag behind, stop stores and inject region errors, then watch how the
 * client retries. Not exported from the library.
 */
import { compareBytes } from "#codec";
import type { errorpb, kvrpcpb } from "#proto";
import { metapb, tikvpb } from "#proto";
import { DATA_COMMAND_EPOCH_CHECK } from "../../../../tikv-store/src/raftstore/region-epoch.ts";
import {
  checkRequest,
  type KeyCheck,
  type RequestPeerView,
} from "../../../../tikv-store/src/raftstore/request-check.ts";
import { toRegionErrorProto } from "../../../../tikv-store/src/server/region-errors.ts";
import type { PdRegion, PdStore } from "../pd/pd-client.ts";
import type { RegionCachePd } from "../region-cache/region-cache.ts";
import { NO_ANSWER, type TestAnswer, TestBatchServer } from "./batch-server.ts";

interface FakeRegion {
  meta: metapb.Region;
  /** The store whose peer leads the region. */
  leaderStoreId: bigint;
  /** What pd reports as leader; lags behind `leaderStoreId` when a test says so. */
  pdLeaderStoreId: bigint;
}

/** An error the next matching requests get instead of being served. */
export interface InjectedError {
  readonly storeId?: bigint;
  readonly command?: string;
  /** How many requests it answers before it is used up. */
  times: number;
  readonly error: errorpb.Error | typeof NO_ANSWER;
}

type Command = NonNullable<tikvpb.BatchCommandsRequest_Request["cmd"]>;

const READ_COMMANDS: ReadonlySet<Command["$case"]> = new Set(["rawGet", "rawBatchGet", "rawScan"]);
/** The fake has no elections: every leader is in this term (clients that send no term never notice). */
const FAKE_TERM = 1;

export class FakeCluster {
  readonly stores = new Map<bigint, TestBatchServer>();
  readonly data = new Map<string, { key: Uint8Array; value: Uint8Array }>();
  readonly injected: InjectedError[] = [];
  /** Requests each store received, by command. */
  readonly received: Array<{ storeId: bigint; command: string; regionId: bigint }> = [];
  /** Region lookups pd answered (store lookups not counted). */
  pdRegionLookups = 0;
  /** When false, NotLeader answers carry no leader hint. */
  hintLeaders = true;
  private regions: FakeRegion[] = [];
  private nextId = 100n;

  private constructor() {}

  /** `storeCount` stores; regions split at `splitKeys`, each with a peer on every store, store 1 leading. */
  static async start(storeCount: number, splitKeys: readonly string[]): Promise<FakeCluster> {
    const cluster = new FakeCluster();
    for (let storeId = 1n; storeId <= BigInt(storeCount); storeId++) {
      const server = await TestBatchServer.start();
      const id = storeId;
      server.handler = (request) => cluster.serve(id, request);
      cluster.stores.set(storeId, server);
    }
    const bounds = ["", ...splitKeys, ""];
    for (let index = 0; index + 1 < bounds.length; index++) {
      cluster.regions.push(cluster.newRegion(key(bounds[index]!), key(bounds[index + 1]!), 1n));
    }
    return cluster;
  }

  get pd(): RegionCachePd {
    return {
      getRegion: async (regionKey) => {
        this.pdRegionLookups++;
        const region = this.regions.find((candidate) => inRange(candidate.meta, regionKey));
        return region === undefined ? undefined : this.pdRegion(region);
      },
      getRegionById: async (regionId) => {
        this.pdRegionLookups++;
        const region = this.regions.find((candidate) => candidate.meta.id === regionId);
        return region === undefined ? undefined : this.pdRegion(region);
      },
      scanRegions: async (startKey, endKey, limit) => {
        this.pdRegionLookups++;
        const found = this.sortedRegions().filter(
          (region) =>
            (region.meta.endKey.length === 0 || compareBytes(region.meta.endKey, startKey) > 0) &&
            (endKey.length === 0 || compareBytes(region.meta.startKey, endKey) < 0),
        );
        return (limit > 0 ? found.slice(0, limit) : found).map((region) => this.pdRegion(region));
      },
      getStore: async (storeId): Promise<PdStore | undefined> => {
        const server = this.stores.get(storeId);
        if (server === undefined) return undefined;
        return { store: metapb.Store.fromPartial({ id: storeId, address: server.address }) };
      },
    };
  }

  regionIds(): bigint[] {
    return this.sortedRegions().map((region) => region.meta.id);
  }

  /** The region holding `at`, split at `at`; both halves get version + 1. Pd learns at once. */
  split(at: string): void {
    const splitKey = key(at);
    const region = this.regions.find((candidate) => inRange(candidate.meta, splitKey))!;
    const version = (region.meta.regionEpoch?.version ?? 0n) + 1n;
    const right = this.newRegion(splitKey, region.meta.endKey, region.leaderStoreId);
    right.meta.regionEpoch = { confVer: region.meta.regionEpoch?.confVer ?? 0n, version };
    region.meta = { ...region.meta, endKey: splitKey, regionEpoch: { ...region.meta.regionEpoch!, version } };
    this.regions.push(right);
  }

  /** Moves the leader of the region holding `at`; pd hears of it only when `tellPd`. */
  transferLeader(at: string, storeId: bigint, options: { readonly tellPd: boolean }): void {
    const region = this.regions.find((candidate) => inRange(candidate.meta, key(at)))!;
    region.leaderStoreId = storeId;
    if (options.tellPd) region.pdLeaderStoreId = storeId;
  }

  requestsTo(storeId: bigint): number {
    return this.received.filter((request) => request.storeId === storeId).length;
  }

  close(): void {
    for (const server of this.stores.values()) server.stop();
  }

  private newRegion(startKey: Uint8Array, endKey: Uint8Array, leaderStoreId: bigint): FakeRegion {
    const id = this.nextId++;
    const peers = [...this.stores.keys()].map((storeId) =>
      metapb.Peer.fromPartial({ id: id * 10n + storeId, storeId }),
    );
    const meta = metapb.Region.fromPartial({
      id,
      startKey,
      endKey,
      regionEpoch: { confVer: 1n, version: 1n },
      peers,
    });
    return { meta, leaderStoreId, pdLeaderStoreId: leaderStoreId };
  }

  private sortedRegions(): FakeRegion[] {
    return [...this.regions].sort((left, right) => compareBytes(left.meta.startKey, right.meta.startKey));
  }

  private pdRegion(region: FakeRegion): PdRegion {
    const leader = region.meta.peers.find((peer) => peer.storeId === region.pdLeaderStoreId);
    return { region: metapb.Region.fromPartial(region.meta), leader, downPeers: [], pendingPeers: [] };
  }

  private serve(storeId: bigint, request: tikvpb.BatchCommandsRequest_Request): TestAnswer {
    const command = request.cmd;
    if (command === undefined || command.$case === "empty") return { cmd: undefined };
    const context = (command.value as { context?: kvrpcpb.Context }).context;
    this.received.push({ storeId, command: command.$case, regionId: context?.regionId ?? 0n });
    const refusal = this.injectedFor(storeId, command.$case) ?? this.check(storeId, command, context);
    if (refusal === NO_ANSWER) return NO_ANSWER;
    if (refusal !== undefined) return answer(command.$case, { regionError: refusal });
    return answer(command.$case, this.execute(command));
  }

  private injectedFor(storeId: bigint, command: string): errorpb.Error | typeof NO_ANSWER | undefined {
    const rule = this.injected.find(
      (candidate) =>
        candidate.times > 0 &&
        (candidate.storeId === undefined || candidate.storeId === storeId) &&
        (candidate.command === undefined || candidate.command === command),
    );
    if (rule === undefined) return undefined;
    rule.times--;
    return rule.error;
  }

  /** The store's checks on its peer of the request's region; the refusal a real store would answer. */
  private check(
    storeId: bigint,
    command: Command,
    context: kvrpcpb.Context | undefined,
  ): errorpb.Error | undefined {
    if (context === undefined) throw new Error("the client sent a request without a context");
    const region = this.regions.find((candidate) => candidate.meta.id === context.regionId);
    const checks = {
      epoch: DATA_COMMAND_EPOCH_CHECK,
      keys: keyCheckOf(command),
      allowFollower: READ_COMMANDS.has(command.$case) && context.replicaRead,
    };
    const currentRegions = () =>
      this.sortedRegions().map((candidate) => metapb.Region.fromPartial(candidate.meta));
    try {
      checkRequest(storeId, region && this.peerView(region, storeId), context, checks, { currentRegions });
      return undefined;
    } catch (error) {
      const refusal = toRegionErrorProto(error);
      if (refusal === undefined) throw error;
      return refusal;
    }
  }

  /** This store's peer of `region`, as the store's checks see it; every replica is initialized and current. */
  private peerView(region: FakeRegion, storeId: bigint): RequestPeerView | undefined {
    const meta = region.meta.peers.find((peer) => peer.storeId === storeId);
    if (meta === undefined) return undefined;
    const leader = region.meta.peers.find((peer) => peer.storeId === region.leaderStoreId);
    return {
      meta,
      region: region.meta,
      initialized: true,
      isGoingAway: false,
      isLeader: region.leaderStoreId === storeId,
      term: FAKE_TERM,
      leaderPeer: () => (this.hintLeaders ? leader : undefined),
    };
  }

  private execute(command: Command): object {
    switch (command.$case) {
      case "rawGet": {
        const found = this.data.get(hex(command.value.key));
        return found === undefined ? { notFound: true } : { value: found.value };
      }
      case "rawBatchGet":
        return { pairs: command.value.keys.flatMap((candidate) => this.data.get(hex(candidate)) ?? []) };
      case "rawPut":
        this.data.set(hex(command.value.key), { key: command.value.key, value: command.value.value });
        return {};
      case "rawBatchPut":
        for (const pair of command.value.pairs)
          this.data.set(hex(pair.key), { key: pair.key, value: pair.value });
        return {};
      case "rawDelete":
        this.data.delete(hex(command.value.key));
        return {};
      case "rawBatchDelete":
        for (const candidate of command.value.keys) this.data.delete(hex(candidate));
        return {};
      case "rawScan":
        return { kvs: this.scan(command.value) };
      case "rawDeleteRange":
        for (const pair of this.pairsIn(command.value.startKey, command.value.endKey))
          this.data.delete(hex(pair.key));
        return {};
      case "rawCompareAndSwap":
        return this.compareAndSwap(command.value);
      default:
        throw new Error(`the fake cluster does not serve ${command.$case}`);
    }
  }

  private scan(request: kvrpcpb.RawScanRequest): Array<{ key: Uint8Array; value: Uint8Array }> {
    const region = this.regions.find((candidate) => candidate.meta.id === request.context?.regionId)!.meta;
    const [lower, upper] = request.reverse
      ? [request.endKey, request.startKey]
      : [request.startKey, request.endKey];
    const clippedLower = compareBytes(lower, region.startKey) >= 0 ? lower : region.startKey;
    const clippedUpper = earlier(upper, region.endKey);
    const pairs = this.pairsIn(clippedLower, clippedUpper);
    if (request.reverse) pairs.reverse();
    return pairs
      .slice(0, request.limit)
      .map((pair) => ({ key: pair.key, value: request.keyOnly ? new Uint8Array() : pair.value }));
  }

  private compareAndSwap(request: kvrpcpb.RawCompareAndSwapRequest): object {
    const current = this.data.get(hex(request.key));
    const matches = request.previousNotExist
      ? current === undefined
      : current !== undefined && compareBytes(current.value, request.previousValue) === 0;
    if (matches) this.data.set(hex(request.key), { key: request.key, value: request.value });
    return {
      succeed: matches,
      previousNotExist: current === undefined,
      previousValue: current?.value ?? new Uint8Array(),
    };
  }

  private pairsIn(lower: Uint8Array, upper: Uint8Array): Array<{ key: Uint8Array; value: Uint8Array }> {
    return [...this.data.values()]
      .filter(
        (pair) =>
          compareBytes(pair.key, lower) >= 0 && (upper.length === 0 || compareBytes(pair.key, upper) < 0),
      )
      .sort((left, right) => compareBytes(left.key, right.key));
  }
}

function answer(command: string, value: object): tikvpb.BatchCommandsResponse_Response {
  return tikvpb.BatchCommandsResponse_Response.fromPartial({
    cmd: { $case: command, value },
  } as tikvpb.DeepPartial<tikvpb.BatchCommandsResponse_Response>);
}

/** The keys a command touches, as the store's handlers hand them to its checks. */
function keyCheckOf(command: Command): KeyCheck | undefined {
  switch (command.$case) {
    case "rawGet":
    case "rawPut":
    case "rawDelete":
    case "rawCompareAndSwap":
      return { kind: "keys", keys: [command.value.key] };
    case "rawBatchGet":
    case "rawBatchDelete":
      return { kind: "keys", keys: command.value.keys };
    case "rawBatchPut":
      return { kind: "keys", keys: command.value.pairs.map((pair) => pair.key) };
    case "rawScan":
      return { kind: "scan", key: command.value.startKey, reverse: command.value.reverse };
    case "rawDeleteRange":
      return { kind: "range", startKey: command.value.startKey, endKey: command.value.endKey };
    default:
      return undefined;
  }
}

function inRange(region: metapb.Region, candidate: Uint8Array): boolean {
  return (
    compareBytes(region.startKey, candidate) <= 0 &&
    (region.endKey.length === 0 || compareBytes(candidate, region.endKey) < 0)
  );
}

function earlier(first: Uint8Array, second: Uint8Array): Uint8Array {
  if (first.length === 0) return second;
  if (second.length === 0) return first;
  return compareBytes(first, second) <= 0 ? first : second;
}

export function key(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}
