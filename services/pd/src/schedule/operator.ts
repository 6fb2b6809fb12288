/**
 * An operator: an ordered list of steps pd drives one region through (e.g. add learner → promote →
 * transfer leader → remove old peer), remembering the region epoch it was planned against. Region
 * heartbeats move it forward; an epoch change its own steps do not explain means someone else changed
 * the region, so the plan is void.
 */
import { InvariantError } from "#runtime";
import type { RegionInfo } from "../cluster/cluster-view.ts";
import {
  changesVersion,
  confChangesApplied,
  describeStep,
  isStepFinished,
  type OperatorStep,
  stepTimeoutMs,
} from "./operator-step.ts";
import { type EpochView, epochOf } from "./region-peers.ts";

/** What the operator is for; limits are counted per kind. "admin" operators come from a person. */
export type OperatorKind = "leader" | "region" | "replica" | "admin";

/** A running operator is replaced only by one of strictly higher priority. */
export type OperatorPriority = "low" | "normal" | "high" | "highest";

const PRIORITY_RANK: Readonly<Record<OperatorPriority, number>> = { low: 0, normal: 1, high: 2, highest: 3 };

export function outranks(candidate: OperatorPriority, incumbent: OperatorPriority): boolean {
  return PRIORITY_RANK[candidate] > PRIORITY_RANK[incumbent];
}

export type OperatorStatus = "running" | "success" | "cancelled" | "timeout" | "replaced";

/** A snapshot of an operator for the HTTP API and logs. */
export interface OperatorView {
  readonly regionId: bigint;
  readonly description: string;
  readonly kind: OperatorKind;
  readonly priority: OperatorPriority;
  readonly status: OperatorStatus;
  /** Why it was cancelled, replaced or timed out. */
  readonly reason: string | undefined;
  readonly regionEpoch: EpochView;
  readonly steps: readonly OperatorStep[];
  readonly stepDescriptions: readonly string[];
  /** Index of the step in progress; equals steps.length once all are done. */
  readonly currentStep: number;
  /** Wall-clock times, for display only. */
  readonly createdAtMs: number;
  readonly finishedAtMs: number | undefined;
}

export interface OperatorTimeouts {
  readonly operatorTimeoutMs: number;
  readonly stepTimeoutMs: number;
  readonly leaderStepTimeoutMs: number;
}

export interface OperatorOptions {
  readonly description: string;
  readonly kind: OperatorKind;
  readonly priority: OperatorPriority;
  /** The region as it was when the operator was planned. */
  readonly region: RegionInfo;
  readonly steps: readonly OperatorStep[];
  /** Monotonic time, for timeouts. */
  readonly nowMs: number;
  /** Wall-clock time, for display. */
  readonly wallClockMs: number;
}

export class Operator {
  readonly description: string;
  readonly kind: OperatorKind;
  readonly priority: OperatorPriority;
  readonly regionId: bigint;
  readonly regionEpoch: EpochView;
  readonly steps: readonly OperatorStep[];
  private readonly createdAtMs: number;
  private readonly createdAtWallClockMs: number;
  private stepIndex = 0;
  private stepStartedAtMs: number;
  private currentStatus: OperatorStatus = "running";
  private finishReason: string | undefined;
  private finishedAtWallClockMs: number | undefined;

  constructor(options: OperatorOptions) {
    if (options.steps.length === 0) {
      throw new InvariantError(
        `operator "${options.description}" for region ${options.region.meta.id} has no steps`,
      );
    }
    this.description = options.description;
    this.kind = options.kind;
    this.priority = options.priority;
    this.regionId = options.region.meta.id;
    this.regionEpoch = epochOf(options.region);
    this.steps = [...options.steps];
    this.createdAtMs = options.nowMs;
    this.createdAtWallClockMs = options.wallClockMs;
    this.stepStartedAtMs = options.nowMs;
  }

  get status(): OperatorStatus {
    return this.currentStatus;
  }

  get isRunning(): boolean {
    return this.currentStatus === "running";
  }

  get currentStepIndex(): number {
    return this.stepIndex;
  }

  /** The step in progress; undefined once all are done. */
  get currentStep(): OperatorStep | undefined {
    return this.steps[this.stepIndex];
  }

  /** The steps not yet seen finished, the current one first. */
  remainingSteps(): readonly OperatorStep[] {
    return this.steps.slice(this.stepIndex);
  }

  /**
   * Moves past every step the reported region shows finished and returns the step to request next, or
   * undefined when all are done. Steps complete in order: a later step's goal may hold by accident (the
   * leader already on the target) but only counts once the steps before it are done.
   */
  advance(region: RegionInfo, nowMs: number): OperatorStep | undefined {
    while (this.stepIndex < this.steps.length && isStepFinished(this.steps[this.stepIndex]!, region)) {
      this.stepIndex++;
      this.stepStartedAtMs = nowMs;
    }
    return this.steps[this.stepIndex];
  }

  /**
   * Why the reported epoch shows changes this operator did not make (undefined when it does not). Counts
   * the conf changes of the steps up to and including the current one that are visible in the region.
   */
  foreignEpochChange(region: RegionInfo): string | undefined {
    const latest = epochOf(region);
    const ownSteps = this.steps.slice(0, this.stepIndex + 1);
    const ownConfChanges = ownSteps.reduce((sum, step) => sum + confChangesApplied(step, region), 0);
    const confChanges = latest.confVer - this.regionEpoch.confVer;
    if (confChanges > BigInt(ownConfChanges)) {
      return `region ${this.regionId} conf_ver moved from ${this.regionEpoch.confVer} to ${latest.confVer} but the operator made ${ownConfChanges} conf changes`;
    }
    if (latest.version > this.regionEpoch.version && !ownSteps.some(changesVersion)) {
      return `region ${this.regionId} version moved from ${this.regionEpoch.version} to ${latest.version} (split or merge) under the operator`;
    }
    return undefined;
  }

  /** Whether the reported epoch is older than the one the operator was planned against (a delayed heartbeat). */
  isOlderThanPlan(region: RegionInfo): boolean {
    const latest = epochOf(region);
    return latest.confVer < this.regionEpoch.confVer || latest.version < this.regionEpoch.version;
  }

  /** Why the operator has run out of time (undefined while it has not). */
  timeoutReason(nowMs: number, timeouts: OperatorTimeouts): string | undefined {
    const runningMs = nowMs - this.createdAtMs;
    if (runningMs > timeouts.operatorTimeoutMs) {
      return `operator ran ${runningMs} ms, over the ${timeouts.operatorTimeoutMs} ms limit`;
    }
    const step = this.steps[this.stepIndex];
    if (step === undefined) return undefined;
    const stepMs = nowMs - this.stepStartedAtMs;
    const limitMs = stepTimeoutMs(step, timeouts);
    if (stepMs > limitMs)
      return `step "${describeStep(step)}" made no progress for ${stepMs} ms (limit ${limitMs} ms)`;
    return undefined;
  }

  /** Marks the operator finished; only the first call counts. */
  finish(status: Exclude<OperatorStatus, "running">, reason: string | undefined, wallClockMs: number): void {
    if (!this.isRunning) return;
    this.currentStatus = status;
    this.finishReason = reason;
    this.finishedAtWallClockMs = wallClockMs;
  }

  view(): OperatorView {
    return {
      regionId: this.regionId,
      description: this.description,
      kind: this.kind,
      priority: this.priority,
      status: this.currentStatus,
      reason: this.finishReason,
      regionEpoch: this.regionEpoch,
      steps: this.steps,
      stepDescriptions: this.steps.map(describeStep),
      currentStep: this.stepIndex,
      createdAtMs: this.createdAtWallClockMs,
      finishedAtMs: this.finishedAtWallClockMs,
    };
  }
}
