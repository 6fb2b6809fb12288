/**
 * How loaded each store is for scheduling decisions: region and leader counts and a region weight, as the
 * region tree reports them plus what running operators are about to change. Counting the pending effect
 * (PD calls it operator influence) keeps one scheduling run from sending ten regions to the same emptiest
 * store, and keeps the next run from undoing an operator that has not finished yet.
 *
 * Counts come from the regions, not from store heartbeats: store stats lag by a heartbeat interval and
 * would disagree with the operators' influence.
 */
import type { ClusterView, RegionInfo } from "../cluster/cluster-view.ts";
import type { Operator } from "./operator.ts";
import type { OperatorController } from "./operator-controller.ts";
import { confChangesApplied, isStepFinished, type OperatorStep } from "./operator-step.ts";

export interface StoreLoad {
  readonly regionCount: number;
  readonly leaderCount: number;
  /** Sum of region weights; see StoreLoads.regionWeight. */
  readonly regionWeight: number;
}

interface MutableStoreLoad {
  regionCount: number;
  leaderCount: number;
  regionWeight: number;
}

export class StoreLoads {
  private readonly loads = new Map<bigint, MutableStoreLoad>();
  private totalWeight = 0;
  private totalPeers = 0;

  private constructor(
    private readonly cluster: ClusterView,
    private readonly regionWeightMinBytes: number,
  ) {}

  static measure(options: {
    readonly cluster: ClusterView;
    readonly controller: OperatorController;
    readonly regionWeightMinBytes: number;
  }): StoreLoads {
    const loads = new StoreLoads(options.cluster, options.regionWeightMinBytes);
    for (const region of options.cluster.regions()) loads.addRegion(region);
    for (const operator of options.controller.runningOperators()) loads.addOperator(operator);
    return loads;
  }

  /** Size counts, but a region never weighs less than the minimum, so empty regions balance by count. */
  regionWeight(region: RegionInfo): number {
    return Math.max(region.approximateSizeBytes, this.regionWeightMinBytes);
  }

  /** Average weight of one replica across the cluster; the minimum weight when there are no regions. */
  averageRegionWeight(): number {
    return this.totalPeers === 0 ? this.regionWeightMinBytes : this.totalWeight / this.totalPeers;
  }

  get(storeId: bigint): StoreLoad {
    return this.loads.get(storeId) ?? { regionCount: 0, leaderCount: 0, regionWeight: 0 };
  }

  /** Counts the not yet finished steps of an operator that was just started. */
  addOperator(operator: Operator): void {
    const region = this.cluster.region(operator.regionId);
    const weight = region === undefined ? this.regionWeightMinBytes : this.regionWeight(region);
    for (const step of operator.remainingSteps()) {
      // The region tree already counts changes made but not yet seen finished (a learner still catching up).
      if (region !== undefined && isStepVisible(step, region)) continue;
      switch (step.kind) {
        case "add-learner":
          this.adjust(step.storeId, { regionCount: 1, regionWeight: weight });
          break;
        case "remove-peer":
          this.adjust(step.storeId, { regionCount: -1, regionWeight: -weight });
          break;
        case "transfer-leader":
          this.adjust(step.fromStoreId, { leaderCount: -1 });
          this.adjust(step.toStoreId, { leaderCount: 1 });
          break;
        case "promote-learner":
        case "split":
          break;
      }
    }
  }

  private addRegion(region: RegionInfo): void {
    const weight = this.regionWeight(region);
    for (const peer of region.meta.peers) {
      this.adjust(peer.storeId, { regionCount: 1, regionWeight: weight });
      this.totalWeight += weight;
      this.totalPeers++;
    }
    if (region.leader !== undefined) this.adjust(region.leader.storeId, { leaderCount: 1 });
  }

  private adjust(storeId: bigint, delta: Partial<StoreLoad>): void {
    let load = this.loads.get(storeId);
    if (load === undefined) {
      load = { regionCount: 0, leaderCount: 0, regionWeight: 0 };
      this.loads.set(storeId, load);
    }
    load.regionCount += delta.regionCount ?? 0;
    load.leaderCount += delta.leaderCount ?? 0;
    load.regionWeight += delta.regionWeight ?? 0;
  }
}

function isStepVisible(step: OperatorStep, region: RegionInfo): boolean {
  return step.kind === "transfer-leader"
    ? isStepFinished(step, region)
    : confChangesApplied(step, region) > 0;
}
