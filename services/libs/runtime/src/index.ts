export { type Clock, sleep, systemClock, systemTimers, type TimerHandle, type Timers } from "./clock.ts";
export { describeConfig, helpRequested, type LoadConfigOptions, loadConfig } from "./config.ts";
export { ConfigError } from "./config-error.ts";
export {
  type BoolOption,
  type ConfigOption,
  type ConfigSchema,
  type ConfigValues,
  type DurationOption,
  defineConfigSchema,
  type EnumOption,
  type IntOption,
  type NumberOption,
  type OptionValue,
  type SizeOption,
  type StringListOption,
  type StringOption,
} from "./config-schema.ts";
export { parseDurationMs, parseSizeBytes } from "./config-values.ts";
export {
  type FailpointAction,
  FailpointError,
  FailpointSpecError,
  Failpoints,
  processFailpoints,
} from "./failpoints.ts";
export { type HttpListener, startHttpListener } from "./http-listener.ts";
export { InvariantError } from "./invariant-error.ts";
export { type Random, SeededRandom, systemRandom } from "./random.ts";
export {
  type Closer,
  DEFAULT_SHUTDOWN_DEADLINE_MS,
  EXIT_CODE_CLEAN,
  EXIT_CODE_UNCLEAN,
  GracefulShutdown,
  type GracefulShutdownOptions,
  type ProcessLike,
  ShutdownInProgressError,
  type ShutdownLogger,
} from "./shutdown.ts";
export {
  MAX_REQUEST_BODY_BYTES,
  type StatusRequest,
  type StatusResponse,
  type StatusRoute,
  type StatusServer,
  type StatusServerOptions,
  startStatusServer,
} from "./status-server.ts";
export { type Task, TaskScope, TaskScopeClosedError, type TaskScopeOptions } from "./task-scope.ts";
export { asError, ThrownValueError } from "./thrown-value-error.ts";
export { untilAborted } from "./until-aborted.ts";
