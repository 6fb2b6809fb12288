/**
 * Holds the running operators — at most one per region — and drives them with region heartbeats until
 * they succeed, are cancelled, replaced or time out; keeps a bounded history of finished ones. Also the
 * single place that enforces per-store limits, so no checker or scheduler can flood one store.
 */
import type { pdpb } from "#proto";
import type { Clock } from "#runtime";
import type { ClusterView, RegionInfo } from "../cluster/cluster-view.ts";
import { type Operator, type OperatorKind, type OperatorPriority, outranks } from "./operator.ts";
import {
  confChangesApplied,
  type OperatorStep,
  peerCountChange,
  stepObstacle,
  stepToResponse,
} from "./operator-step.ts";
import { epochOf } from "./region-peers.ts";
import type { ScheduleConfig } from "./schedule-config.ts";

export type OperatorRejection = "region-not-found" | "epoch-changed" | "region-busy" | "store-limit";

export type AddOperatorResult =
  | { readonly added: true }
  | { readonly added: false; readonly rejection: OperatorRejection; readonly reason: string };

export interface OperatorControllerOptions {
  readonly cluster: ClusterView;
  readonly clock: Clock;
  readonly config: ScheduleConfig;
}

export class OperatorController {
  private readonly cluster: ClusterView;
  private readonly clock: Clock;
  private readonly config: ScheduleConfig;
  private readonly running = new Map<bigint, Operator>();
  private readonly finished: Operator[] = [];

  constructor(options: OperatorControllerOptions) {
    this.cluster = options.cluster;
    this.clock = options.clock;
    this.config = options.config;
  }

  operator(regionId: bigint): Operator | undefined {
    return this.running.get(regionId);
  }

  runningOperators(): readonly Operator[] {
    return [...this.running.values()];
  }

  /** Finished operators, oldest first, at most `operatorHistoryLimit`. */
  history(): readonly Operator[] {
    return [...this.finished];
  }

  countByKind(kind: OperatorKind): number {
    let count = 0;
    for (const operator of this.running.values()) if (operator.kind === kind) count++;
    return count;
  }

  /** Whether an operator of this priority could take the region (free, or held by a lower priority). */
  canTake(regionId: bigint, priority: OperatorPriority): boolean {
    const incumbent = this.running.get(regionId);
    return incumbent === undefined || outranks(priority, incumbent.priority);
  }

  /** Whether the store can take one more operator that adds or removes a peer on it. */
  hasPeerCapacity(storeId: bigint): boolean {
    return this.peerOperatorsOnStore(storeId) < this.config.storeLimitOperatorsPerStore;
  }

  /** Whether the store can take one more operator that moves a leader onto or off it. */
  hasLeaderCapacity(storeId: bigint): boolean {
    return this.leaderOperatorsOnStore(storeId) < this.config.storeLimitLeaderOperatorsPerStore;
  }

  /** Running operators with a peer change on the store still to come. */
  peerOperatorsOnStore(storeId: bigint, except?: bigint): number {
    return this.countOperators(except, (step) => peerCountChange(step)?.storeId === storeId);
  }

  /** Running operators with a leader transfer onto or off the store still to come. */
  leaderOperatorsOnStore(storeId: bigint, except?: bigint): number {
    return this.countOperators(
      except,
      (step) =>
        step.kind === "transfer-leader" && (step.fromStoreId === storeId || step.toStoreId === storeId),
    );
  }

  /**
   * Why running these steps on the region would exceed a store limit (undefined when it would not). The
   * region's own running operator is not counted, since the new one would replace it.
   */
  storeLimitProblem(steps: readonly OperatorStep[], regionId: bigint): string | undefined {
    for (const step of steps) {
      const change = peerCountChange(step);
      if (change !== undefined) {
        const count = this.peerOperatorsOnStore(change.storeId, regionId);
        if (count >= this.config.storeLimitOperatorsPerStore) {
          return `store ${change.storeId} already has ${count} operators changing its peers (limit ${this.config.storeLimitOperatorsPerStore})`;
        }
      }
      if (step.kind === "transfer-leader") {
        for (const storeId of [step.fromStoreId, step.toStoreId]) {
          const count = this.leaderOperatorsOnStore(storeId, regionId);
          if (count >= this.config.storeLimitLeaderOperatorsPerStore) {
            return `store ${storeId} already has ${count} operators moving its leaders (limit ${this.config.storeLimitLeaderOperatorsPerStore})`;
          }
        }
      }
    }
    return undefined;
  }

  /**
   * Starts the operator unless the region is gone or moved on since it was planned, already has an operator
   * of equal or higher priority, or a store it touches is at its limit. A lower-priority operator on the
   * region is replaced.
   */
  add(operator: Operator): AddOperatorResult {
    const region = this.cluster.region(operator.regionId);
    if (region === undefined) {
      return reject("region-not-found", `region ${operator.regionId} is unknown`);
    }
    const epoch = epochOf(region);
    if (epoch.confVer !== operator.regionEpoch.confVer || epoch.version !== operator.regionEpoch.version) {
      return reject(
        "epoch-changed",
        `region ${operator.regionId} epoch is now conf_ver ${epoch.confVer} version ${epoch.version}, the operator was planned for conf_ver ${operator.regionEpoch.confVer} version ${operator.regionEpoch.version}`,
      );
    }
    const incumbent = this.running.get(operator.regionId);
    if (incumbent !== undefined && !outranks(operator.priority, incumbent.priority)) {
      return reject(
        "region-busy",
        `region ${operator.regionId} already runs "${incumbent.description}" (priority ${incumbent.priority})`,
      );
    }
    const overLimit = this.storeLimitProblem(operator.remainingSteps(), operator.regionId);
    if (overLimit !== undefined) return reject("store-limit", overLimit);
    if (incumbent !== undefined) this.finish(incumbent, "replaced", `replaced by "${operator.description}"`);
    this.running.set(operator.regionId, operator);
    return { added: true };
  }

  /**
   * Handles a region heartbeat: advances the region's operator and returns the reply carrying its current
   * step, or undefined when the region has no operator or the operator just ended.
   */
  dispatch(region: RegionInfo): pdpb.RegionHeartbeatResponse | undefined {
    const operator = this.running.get(region.meta.id);
    if (operator === undefined) return undefined;
    const step = this.check(operator, region);
    // A delayed heartbeat can still time the operator out, but a reply built on its outdated epoch
    // would only be ignored by the leader. A step whose conf change the region already shows is an added
    // learner catching up: asking for it again would only make the leader repeat it.
    if (step === undefined || operator.isOlderThanPlan(region) || confChangesApplied(step, region) > 0) {
      return undefined;
    }
    return stepToResponse(step, region);
  }

  /**
   * Brings every running operator up to date with the region tree: ends those that finished, were
   * overtaken or timed out, or whose region disappeared (merged away, removed with its store). Run before
   * scheduling so decisions see what operators still have to do, not what they already did.
   */
  refresh(): void {
    for (const operator of this.runningOperators()) {
      const region = this.cluster.region(operator.regionId);
      if (region === undefined) {
        this.finish(operator, "cancelled", `region ${operator.regionId} disappeared`);
      } else {
        this.check(operator, region);
      }
    }
  }

  /** Cancels the region's operator; false when it has none. */
  cancel(regionId: bigint, reason: string): boolean {
    const operator = this.running.get(regionId);
    if (operator === undefined) return false;
    this.finish(operator, "cancelled", reason);
    return true;
  }

  /** Advances the operator against the region; returns its current step, or undefined once it has ended. */
  private check(operator: Operator, region: RegionInfo): OperatorStep | undefined {
    const nowMs = this.clock.monotonicMs();
    // A report older than the operator's plan (a delayed heartbeat) says nothing about its progress.
    if (!operator.isOlderThanPlan(region)) {
      const step = operator.advance(region, nowMs);
      if (step === undefined) {
        this.finish(operator, "success", undefined);
        return undefined;
      }
      const obstacle = operator.foreignEpochChange(region) ?? stepObstacle(step, region, this.cluster);
      if (obstacle !== undefined) {
        this.finish(operator, "cancelled", obstacle);
        return undefined;
      }
    }
    const timeout = operator.timeoutReason(nowMs, this.config);
    if (timeout !== undefined) {
      this.finish(operator, "timeout", timeout);
      return undefined;
    }
    return operator.currentStep;
  }

  private finish(
    operator: Operator,
    status: "success" | "cancelled" | "timeout" | "replaced",
    reason?: string,
  ): void {
    operator.finish(status, reason, this.clock.nowMs());
    if (this.running.get(operator.regionId) === operator) this.running.delete(operator.regionId);
    if (this.config.operatorHistoryLimit === 0) return;
    this.finished.push(operator);
    if (this.finished.length > this.config.operatorHistoryLimit) this.finished.shift();
  }

  private countOperators(
    exceptRegionId: bigint | undefined,
    touches: (step: OperatorStep) => boolean,
  ): number {
    let count = 0;
    for (const operator of this.running.values()) {
      if (operator.regionId === exceptRegionId) continue;
      if (operator.remainingSteps().some(touches)) count++;
    }
    return count;
  }
}

function reject(rejection: OperatorRejection, reason: string): AddOperatorResult {
  return { added: false, rejection, reason };
}
