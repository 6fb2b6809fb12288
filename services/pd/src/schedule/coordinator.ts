/**
 * The scheduling facade the pd server wires in. Region heartbeats drive running operators
 * (`onRegionHeartbeat`); a periodic `runOnce` expires stale operators, runs the replica checker over every
 * region, then each unpaused scheduler (evict-leader, balance-leader, balance-region). People add and
 * cancel operators, pause schedulers and evict leaders through the remaining methods.
 *
 * No operator waits for a timer to make progress: a new operator's first step is sent to the region's
 * leader at once (`sendStep`), each later step is the reply to the heartbeat that shows the previous one
 * done, and a region whose operator ended is checked again right away (`onRegionsToCheck`), so a region
 * still short of replicas gets its next operator without waiting for the next pass.
 * Pure logic: no timers and no I/O of its own — the caller decides when to run it.
 */
import type { pdpb } from "#proto";
import type { Clock } from "#runtime";
import type { ClusterView, RegionInfo } from "../cluster/cluster-view.ts";
import { ReplicaChecker } from "./checkers/replica-checker.ts";
import { buildManualOperator, type ManualOperatorRequest } from "./manual-operators.ts";
import type { Operator, OperatorView } from "./operator.ts";
import { type AddOperatorResult, OperatorController } from "./operator-controller.ts";
import type { ScheduleConfig } from "./schedule-config.ts";
import type { ScheduleContext } from "./schedule-context.ts";
import { ScheduleRequestError } from "./schedule-request-error.ts";
import { BalanceLeaderScheduler } from "./schedulers/balance-leader.ts";
import { BalanceRegionScheduler } from "./schedulers/balance-region.ts";
import { EvictLeaderScheduler } from "./schedulers/evict-leader.ts";
import type { Scheduler } from "./schedulers/scheduler.ts";
import { StoreLoads } from "./store-loads.ts";

export interface CoordinatorOptions {
  readonly cluster: ClusterView;
  /** Allocates a cluster-unique id (pd's AllocID), used for new peers. */
  readonly allocId: () => Promise<bigint>;
  readonly clock: Clock;
  readonly config: ScheduleConfig;
  /** Delivers a step to the store leading its region, unasked; without it steps only answer heartbeats. */
  readonly sendStep?: (leaderStoreId: bigint, step: pdpb.RegionHeartbeatResponse) => void;
  /** Regions await `checkRegions`; the caller runs it soon. */
  readonly onRegionsToCheck?: () => void;
}

export interface SchedulerView {
  readonly name: string;
  readonly paused: boolean;
  /** Wall-clock time the pause ends, when paused. */
  readonly pausedUntilMs: number | undefined;
  /** For the evict-leader scheduler: stores under an explicit evict request (stopping stores are evicted too). */
  readonly storeIds: readonly bigint[];
}

export class Coordinator {
  private readonly cluster: ClusterView;
  private readonly allocId: () => Promise<bigint>;
  private readonly clock: Clock;
  private readonly config: ScheduleConfig;
  private readonly controller: OperatorController;
  private readonly replicaChecker = new ReplicaChecker();
  private readonly evictLeader = new EvictLeaderScheduler();
  /** Eviction first: it outranks balancing and should not wait behind it for limits. */
  private readonly schedulerList: readonly Scheduler[];
  /** Monotonic time each paused scheduler resumes. */
  private readonly pausedUntil = new Map<string, number>();
  private runInProgress: Promise<void> | undefined;
  /** Regions whose operator ended since the last `checkRegions`. */
  private readonly regionsToCheck = new Set<bigint>();
  private checkInProgress: Promise<void> | undefined;

  constructor(private readonly options: CoordinatorOptions) {
    this.cluster = options.cluster;
    this.allocId = options.allocId;
    this.clock = options.clock;
    this.config = options.config;
    this.controller = new OperatorController({
      cluster: options.cluster,
      clock: options.clock,
      config: options.config,
    });
    this.schedulerList = [this.evictLeader, new BalanceLeaderScheduler(), new BalanceRegionScheduler()];
  }

  /**
   * Called for every region heartbeat (after the region tree accepted it); returns the reply carrying the
   * region's current operator step, or undefined when there is nothing to ask of the leader.
   */
  onRegionHeartbeat(region: RegionInfo): pdpb.RegionHeartbeatResponse | undefined {
    const running = this.controller.operator(region.meta.id);
    const reply = this.controller.dispatch(region);
    if (running !== undefined && !running.isRunning) this.markForCheck(region.meta.id);
    return reply;
  }

  /**
   * Runs the replica checker over the regions whose operators ended since the last call. A call while a
   * check is running joins it; regions marked meanwhile are checked before it resolves.
   */
  checkRegions(): Promise<void> {
    this.checkInProgress ??= this.checkMarkedRegions().finally(() => {
      this.checkInProgress = undefined;
    });
    return this.checkInProgress;
  }

  /** One scheduling pass. A call while a pass is still running joins that pass instead of starting another. */
  runOnce(): Promise<void> {
    if (this.runInProgress === undefined) {
      this.runInProgress = this.runPass().finally(() => {
        this.runInProgress = undefined;
      });
    }
    return this.runInProgress;
  }

  /** Running operators. */
  operators(): readonly OperatorView[] {
    return this.controller.runningOperators().map((operator) => operator.view());
  }

  /** Finished operators, oldest first (bounded by operatorHistoryLimit). */
  operatorHistory(): readonly OperatorView[] {
    return this.controller.history().map((operator) => operator.view());
  }

  /** The region's running operator. */
  operator(regionId: bigint): OperatorView | undefined {
    return this.controller.operator(regionId)?.view();
  }

  /** Validates and starts a manual operator; throws ScheduleRequestError when it cannot be done. */
  async addOperator(request: ManualOperatorRequest): Promise<OperatorView> {
    const operator = await buildManualOperator(request, this.createContext());
    const result = this.controller.add(operator);
    if (!result.added) throw rejectionError(result, operator);
    this.sendCurrentStep(operator.regionId);
    return operator.view();
  }

  /** Cancels the region's running operator; false when it has none. */
  cancelOperator(regionId: bigint): boolean {
    return this.controller.cancel(regionId, "cancelled by request");
  }

  schedulers(): readonly SchedulerView[] {
    const nowMs = this.clock.monotonicMs();
    return this.schedulerList.map((scheduler) => {
      const until = this.activePauseUntil(scheduler.name, nowMs);
      return {
        name: scheduler.name,
        paused: until !== undefined,
        pausedUntilMs: until === undefined ? undefined : this.clock.nowMs() + (until - nowMs),
        storeIds: scheduler === this.evictLeader ? this.evictLeader.requestedStoreIds() : [],
      };
    });
  }

  /** Stops the scheduler from creating operators for `seconds`; its running operators continue. */
  pauseScheduler(name: string, seconds: number): void {
    this.requireScheduler(name);
    if (!Number.isFinite(seconds) || seconds <= 0) {
      throw new ScheduleRequestError({
        code: "invalid-argument",
        message: `pause of scheduler ${name} must last a positive number of seconds, got ${seconds}`,
      });
    }
    this.pausedUntil.set(name, this.clock.monotonicMs() + seconds * 1000);
  }

  resumeScheduler(name: string): void {
    this.requireScheduler(name);
    this.pausedUntil.delete(name);
  }

  /** Moves every leader off the store until stopEvictingLeaders; throws for an unknown store. */
  evictLeaders(storeId: bigint): void {
    if (this.cluster.store(storeId) === undefined) {
      throw new ScheduleRequestError({
        code: "store-not-found",
        message: `store ${storeId} is unknown`,
        storeId,
      });
    }
    this.evictLeader.evict(storeId);
  }

  /** Withdraws an evict request (a stopping store keeps being evicted while it reports stopping). */
  stopEvictingLeaders(storeId: bigint): void {
    this.evictLeader.stopEvicting(storeId);
  }

  private async runPass(): Promise<void> {
    this.controller.refresh();
    const context = this.createContext();
    await this.runReplicaChecker(context);
    const nowMs = this.clock.monotonicMs();
    for (const scheduler of this.schedulerList) {
      if (this.activePauseUntil(scheduler.name, nowMs) === undefined)
        await this.runScheduler(scheduler, context);
    }
  }

  private async runReplicaChecker(context: ScheduleContext): Promise<void> {
    // A copy: the region tree changes with heartbeats while this loop awaits id allocation.
    for (const region of [...this.cluster.regions()]) {
      if (this.controller.countByKind("replica") >= this.config.replicaScheduleLimit) return;
      const operator = await this.replicaChecker.check(region, context);
      if (operator !== undefined) this.start(operator, context);
    }
  }

  private async runScheduler(scheduler: Scheduler, context: ScheduleContext): Promise<void> {
    for (
      let created = 0;
      created < this.config.schedulerBatchSize && scheduler.isAllowed(context);
      created++
    ) {
      const operator = await scheduler.schedule(context);
      // A refused operator would be proposed again at once; wait for the next pass instead.
      if (operator === undefined || !this.start(operator, context)) return;
    }
  }

  private async checkMarkedRegions(): Promise<void> {
    while (this.regionsToCheck.size > 0) {
      const regionIds = [...this.regionsToCheck];
      this.regionsToCheck.clear();
      const context = this.createContext();
      for (const regionId of regionIds) {
        // Over the limit, the periodic pass picks the rest up once operators have finished.
        if (this.controller.countByKind("replica") >= this.config.replicaScheduleLimit) return;
        const region = this.cluster.region(regionId);
        if (region === undefined) continue;
        const operator = await this.replicaChecker.check(region, context);
        if (operator !== undefined) this.start(operator, context);
      }
    }
  }

  private markForCheck(regionId: bigint): void {
    this.regionsToCheck.add(regionId);
    this.options.onRegionsToCheck?.();
  }

  private start(operator: Operator, context: ScheduleContext): boolean {
    const result = this.controller.add(operator);
    if (!result.added) return false;
    context.loads.addOperator(operator);
    this.sendCurrentStep(operator.regionId);
    return true;
  }

  /** Sends the region's operator step to its leader now instead of as the reply to its next heartbeat. */
  private sendCurrentStep(regionId: bigint): void {
    const region = this.cluster.region(regionId);
    const leaderStoreId = region?.leader?.storeId;
    if (region === undefined || leaderStoreId === undefined || this.options.sendStep === undefined) return;
    const step = this.controller.dispatch(region);
    if (step !== undefined) this.options.sendStep(leaderStoreId, step);
  }

  private createContext(): ScheduleContext {
    return {
      cluster: this.cluster,
      config: this.config,
      controller: this.controller,
      loads: StoreLoads.measure({
        cluster: this.cluster,
        controller: this.controller,
        regionWeightMinBytes: this.config.regionWeightMinBytes,
      }),
      evictingStoreIds: this.evictLeader.evictingStoreIds(this.cluster),
      clock: this.clock,
      allocPeerId: this.allocId,
    };
  }

  private activePauseUntil(name: string, nowMs: number): number | undefined {
    const until = this.pausedUntil.get(name);
    if (until === undefined || until > nowMs) return until;
    this.pausedUntil.delete(name);
    return undefined;
  }

  private requireScheduler(name: string): void {
    if (!this.schedulerList.some((scheduler) => scheduler.name === name)) {
      const known = this.schedulerList.map((scheduler) => scheduler.name).join(", ");
      throw new ScheduleRequestError({
        code: "scheduler-not-found",
        message: `scheduler "${name}" is unknown; known schedulers: ${known}`,
      });
    }
  }
}

function rejectionError(
  result: Extract<AddOperatorResult, { added: false }>,
  operator: Operator,
): ScheduleRequestError {
  return new ScheduleRequestError({
    code: result.rejection === "region-not-found" ? "region-not-found" : "conflict",
    message: result.reason,
    regionId: operator.regionId,
  });
}
