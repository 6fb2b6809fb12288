/**
 * Knobs of pd's scheduling. The same settings exist twice on purpose: `ScheduleConfig` is what the
 * scheduling code reads (units in the names), `scheduleConfigSchema` is the `schedule.*` table of pd's
 * config file and flags (TiKV-style durations and sizes). `scheduleConfigFromValues` maps one onto the other.
 */
import { ConfigError, type ConfigValues, defineConfigSchema } from "#runtime";

export interface ScheduleConfig {
  /** Voters every region should have [3]. */
  readonly maxReplicas: number;
  /** An operator still running this long after it was created is abandoned [10 min]. */
  readonly operatorTimeoutMs: number;
  /** A peer or split step that has not completed for this long times its operator out [5 min]; adding a peer includes sending it a snapshot. */
  readonly stepTimeoutMs: number;
  /** A leader transfer that has not happened for this long times its operator out [10 s]. */
  readonly leaderStepTimeoutMs: number;
  /** At most this many running operators may still add or remove peers on one store [8]. */
  readonly storeLimitOperatorsPerStore: number;
  /** At most this many running operators may still move a leader onto or off one store [16]. */
  readonly storeLimitLeaderOperatorsPerStore: number;
  /** Running balance-leader operators, cluster-wide [4]. */
  readonly leaderScheduleLimit: number;
  /** Running balance-region operators, cluster-wide [16]. */
  readonly regionScheduleLimit: number;
  /** Running replica-repair operators, cluster-wide [64]. */
  readonly replicaScheduleLimit: number;
  /** Leader counts differing by at most this much count as balanced [2]; at least 1, or leaders would bounce between two stores. */
  readonly leaderBalanceTolerance: number;
  /** Region scores differing by at most this many average regions count as balanced [2]. */
  readonly regionBalanceTolerance: number;
  /** Regions smaller than this weigh this much in region balance [1 MiB], so empty regions are balanced by count. */
  readonly regionWeightMinBytes: number;
  /** The most operators one scheduler creates in one run [8]. */
  readonly schedulerBatchSize: number;
  /** Finished operators kept for the HTTP API [256]. */
  readonly operatorHistoryLimit: number;
}

export const DEFAULT_SCHEDULE_CONFIG: ScheduleConfig = {
  maxReplicas: 3,
  operatorTimeoutMs: 10 * 60_000,
  stepTimeoutMs: 5 * 60_000,
  leaderStepTimeoutMs: 10_000,
  storeLimitOperatorsPerStore: 8,
  storeLimitLeaderOperatorsPerStore: 16,
  leaderScheduleLimit: 4,
  regionScheduleLimit: 16,
  replicaScheduleLimit: 64,
  leaderBalanceTolerance: 2,
  regionBalanceTolerance: 2,
  regionWeightMinBytes: 1024 * 1024,
  schedulerBatchSize: 8,
  operatorHistoryLimit: 256,
};

/** The `schedule.*` table for pd's config schema; spread it into the pd schema. Defaults equal DEFAULT_SCHEDULE_CONFIG. */
export const scheduleConfigSchema = defineConfigSchema({
  "schedule.max-replicas": { type: "int", default: 3, min: 1, doc: "Voters every region should have." },
  "schedule.operator-timeout": {
    type: "duration",
    default: "10m",
    doc: "An operator still running this long after it was created is abandoned.",
  },
  "schedule.step-timeout": {
    type: "duration",
    default: "5m",
    doc: "A peer or split step that has not completed for this long times its operator out (adding a peer includes a snapshot).",
  },
  "schedule.leader-step-timeout": {
    type: "duration",
    default: "10s",
    doc: "A leader transfer that has not happened for this long times its operator out.",
  },
  "schedule.store-limit-operators-per-store": {
    type: "int",
    default: 8,
    min: 1,
    doc: "At most this many running operators may add or remove peers on one store.",
  },
  "schedule.store-limit-leader-operators-per-store": {
    type: "int",
    default: 16,
    min: 1,
    doc: "At most this many running operators may move a leader onto or off one store.",
  },
  "schedule.leader-schedule-limit": {
    type: "int",
    default: 4,
    min: 0,
    doc: "Running balance-leader operators, cluster-wide; 0 disables leader balancing.",
  },
  "schedule.region-schedule-limit": {
    type: "int",
    default: 16,
    min: 0,
    doc: "Running balance-region operators, cluster-wide; 0 disables region balancing.",
  },
  "schedule.replica-schedule-limit": {
    type: "int",
    default: 64,
    min: 0,
    doc: "Running replica-repair operators, cluster-wide; 0 disables replica repair.",
  },
  "schedule.leader-balance-tolerance": {
    type: "int",
    default: 2,
    min: 1,
    doc: "Stores whose leader counts differ by at most this much count as balanced.",
  },
  "schedule.region-balance-tolerance": {
    type: "number",
    default: 2,
    min: 0,
    doc: "Stores whose region scores differ by at most this many average regions count as balanced.",
  },
  "schedule.region-weight-min-size": {
    type: "size",
    default: "1MiB",
    doc: "Regions smaller than this weigh this much when balancing regions, so empty regions balance by count.",
  },
  "schedule.scheduler-batch-size": {
    type: "int",
    default: 8,
    min: 1,
    doc: "The most operators one scheduler creates in one scheduling run.",
  },
  "schedule.operator-history-limit": {
    type: "int",
    default: 256,
    min: 0,
    doc: "Finished operators kept for the HTTP API.",
  },
});

export type ScheduleConfigValues = ConfigValues<typeof scheduleConfigSchema>["schedule"];

export function scheduleConfigFromValues(values: ScheduleConfigValues): ScheduleConfig {
  return resolveScheduleConfig({
    maxReplicas: values.maxReplicas,
    operatorTimeoutMs: values.operatorTimeout,
    stepTimeoutMs: values.stepTimeout,
    leaderStepTimeoutMs: values.leaderStepTimeout,
    storeLimitOperatorsPerStore: values.storeLimitOperatorsPerStore,
    storeLimitLeaderOperatorsPerStore: values.storeLimitLeaderOperatorsPerStore,
    leaderScheduleLimit: values.leaderScheduleLimit,
    regionScheduleLimit: values.regionScheduleLimit,
    replicaScheduleLimit: values.replicaScheduleLimit,
    leaderBalanceTolerance: values.leaderBalanceTolerance,
    regionBalanceTolerance: values.regionBalanceTolerance,
    regionWeightMinBytes: values.regionWeightMinSize,
    schedulerBatchSize: values.schedulerBatchSize,
    operatorHistoryLimit: values.operatorHistoryLimit,
  });
}

/** Defaults overridden by `overrides`, checked; throws ConfigError naming the bad field. */
export function resolveScheduleConfig(overrides: Partial<ScheduleConfig> = {}): ScheduleConfig {
  const config: ScheduleConfig = { ...DEFAULT_SCHEDULE_CONFIG, ...overrides };
  const minimums: ReadonlyArray<readonly [keyof ScheduleConfig, number]> = [
    ["maxReplicas", 1],
    ["operatorTimeoutMs", 1],
    ["stepTimeoutMs", 1],
    ["leaderStepTimeoutMs", 1],
    ["storeLimitOperatorsPerStore", 1],
    ["storeLimitLeaderOperatorsPerStore", 1],
    ["leaderScheduleLimit", 0],
    ["regionScheduleLimit", 0],
    ["replicaScheduleLimit", 0],
    ["leaderBalanceTolerance", 1],
    ["regionBalanceTolerance", 0],
    ["regionWeightMinBytes", 1],
    ["schedulerBatchSize", 1],
    ["operatorHistoryLimit", 0],
  ];
  for (const [field, minimum] of minimums) {
    const value = config[field];
    if (!Number.isFinite(value) || value < minimum) {
      throw new ConfigError({
        source: "schedule config",
        key: field,
        problem: `${field} must be a finite number >= ${minimum}, got ${value}`,
      });
    }
  }
  return config;
}
