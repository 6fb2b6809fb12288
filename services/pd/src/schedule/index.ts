export { ReplicaChecker } from "./checkers/replica-checker.ts";
export { Coordinator, type CoordinatorOptions, type SchedulerView } from "./coordinator.ts";
export { buildManualOperator, type ManualOperatorRequest, type SplitPolicyName } from "./manual-operators.ts";
export {
  Operator,
  type OperatorKind,
  type OperatorPriority,
  type OperatorStatus,
  type OperatorTimeouts,
  type OperatorView,
  outranks,
} from "./operator.ts";
export {
  type AddOperatorResult,
  OperatorController,
  type OperatorRejection,
} from "./operator-controller.ts";
export {
  type AddLearnerStep,
  describeStep,
  type OperatorStep,
  type PromoteLearnerStep,
  type RemovePeerStep,
  type SplitRegionStep,
  type TransferLeaderStep,
} from "./operator-step.ts";
export type { EpochView } from "./region-peers.ts";
export {
  DEFAULT_SCHEDULE_CONFIG,
  resolveScheduleConfig,
  type ScheduleConfig,
  type ScheduleConfigValues,
  scheduleConfigFromValues,
  scheduleConfigSchema,
} from "./schedule-config.ts";
export { ScheduleRequestError, type ScheduleRequestErrorCode } from "./schedule-request-error.ts";
export { BALANCE_LEADER_SCHEDULER } from "./schedulers/balance-leader.ts";
export { BALANCE_REGION_SCHEDULER } from "./schedulers/balance-region.ts";
export { EVICT_LEADER_SCHEDULER } from "./schedulers/evict-leader.ts";
