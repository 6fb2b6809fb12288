/**
 * `#sim`: building blocks for deterministic simulation tests — a seeded event scheduler with a virtual
 * clock, a simulated network with faults, and a simulated disk that loses unsynced writes on a crash.
 *
 * Wiring a simulation:
 *
 *   const seed = resolveSeed("raft 5 nodes");           // prints "[sim] raft 5 nodes seed=… (replay: …)"
 *   const random = new SeededRandom(seed);              // from #runtime
 *   const scheduler = new Scheduler();
 *   const clock = new VirtualClock(scheduler);          // a Clock and Timers for the code under test
 *   const network = new SimNetwork<Message>({ scheduler, random: random.fork(), classify: (m) => m.type });
 *
 * Every source of nondeterminism must come from `random` (fork it per component so one component's draws
 * do not shift another's) and every wait from the scheduler; then the seed alone fixes the run.
 *
 * Replaying a failure: copy the printed line's replay command, e.g.
 *
 *   SEED=123456789 node --import tsx services/libs/sim/src/determinism.test.ts
 *
 * `SEED` makes `resolveSeed` return that seed instead of a fresh one, so the run repeats exactly.
 */
export {
  type CrashOutcome,
  type DiskWrite,
  SimDisk,
  type SimDiskOptions,
  SimulatedDiskError,
} from "./disk.ts";
export {
  DuplicateNodeError,
  type FilterId,
  type MessageHandler,
  type NetworkEvent,
  NetworkOverloadError,
  SimNetwork,
  type SimNetworkOptions,
  UnknownNodeError,
} from "./network.ts";
export {
  type DelayRange,
  DROP,
  type Envelope,
  type LinkScope,
  matchesScope,
  type NetworkFilter,
  type NodeId,
  PASS,
  type Verdict,
} from "./network-filter.ts";
export { type MessageCounts, NetworkStatistics } from "./network-statistics.ts";
export {
  EventLimitExceededError,
  PendingEventLimitError,
  type ScheduledEventHandle,
  Scheduler,
  type SchedulerOptions,
} from "./scheduler.ts";
export {
  formatReplay,
  formatSeedLine,
  freshSeed,
  InvalidSeedError,
  type ResolveSeedOptions,
  readSeedFromEnvironment,
  resolveSeed,
  SEED_ENVIRONMENT_VARIABLE,
} from "./seed.ts";
export { VirtualClock, type VirtualClockOptions } from "./virtual-clock.ts";
