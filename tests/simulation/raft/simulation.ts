/**
 * One seeded run: bootstrap a 3- or 5-node cluster, run `steps` workload steps under the nemesis with
 * every invariant checked as events happen, then heal everything and require progress (liveness). The
 * seed alone determines the run; a failure carries the command that replays it.
 */
import { type Message, MessageType } from "#raft";
import type { InjectedBug } from "#raft/testing";
import { type Random, SeededRandom } from "#runtime";
import { Scheduler, SimNetwork } from "#sim";
import { SimCluster } from "./cluster.ts";
import { describeFaultProfile, Nemesis, randomFaultProfile } from "./faults.ts";
import { formatDetail } from "./format.ts";
import { emptyCounters, type RunCounters, Trace } from "./history.ts";
import { InvariantChecker, InvariantViolation } from "./invariants.ts";
import type { NodeSettings } from "./node-host.ts";
import { Workload } from "./workload.ts";

export interface SimulationOptions {
  readonly seed: number;
  readonly steps: number;
  /** Drawn from the seed when absent. */
  readonly nodeCount?: 3 | 5;
  /** Events kept for the failure report [200]. */
  readonly traceCapacity?: number;
  /** A raft safety bug every node runs with, to prove the checker catches it. */
  readonly injectedBug?: InjectedBug;
  /** Only the end-to-end invariants, without the checks of what nodes promise on the wire. */
  readonly endToEndOnly?: boolean;
  /**
   * Run every seed with pre-vote. By default a fifth of the seeds run without it, which is how the
   * simulation found a livelock (a RequestVote from an older term dropped without an answer).
   */
  readonly preVoteOnly?: boolean;
}

export interface SimulationSummary {
  readonly seed: number;
  readonly nodeCount: number;
  readonly steps: number;
  readonly committedIndex: number;
  readonly termsWithLeader: number;
  readonly readsChecked: number;
  readonly virtualMs: number;
  readonly events: number;
  readonly counters: RunCounters;
  readonly faultProfile: string;
}

export class SimulationFailure extends Error {
  constructor(
    readonly seed: number,
    readonly step: number,
    readonly invariant: string,
    readonly detail: string,
    readonly replayCommand: string,
    readonly traceLines: readonly string[],
  ) {
    super(`seed ${seed} failed at step ${step}: ${invariant}: ${detail}\n  replay: ${replayCommand}`);
    this.name = "SimulationFailure";
  }
}

export const TICK_MS = 100;
const ELECTION_TICKS = 10;
// Twice the brief's 10 election timeouts: after heavy churn a few rounds of split votes are normal.
const LIVENESS_TIMEOUT_MS = 20 * ELECTION_TICKS * TICK_MS;
const MIN_STEP_MS = 10;
const MAX_STEP_MS = 100;
const MIB = 1024 * 1024;

export function replayCommand(
  seed: number,
  steps: number,
  nodeCount: number | undefined,
  extra = "",
): string {
  const nodes = nodeCount === undefined ? "" : ` --nodes ${nodeCount}`;
  return `SEED=${seed} npm run sim:raft -- --seed ${seed} --steps ${steps}${nodes}${extra === "" ? "" : ` ${extra}`}`;
}

/** Per-seed raft and disk settings: some runs without pre-vote, check-quorum or lease reads, tiny messages… */
function randomNodeSettings(
  random: Random,
  splitAppends: boolean,
  allowNoPreVote: boolean,
  injectedBug: InjectedBug | undefined,
): NodeSettings {
  const checkQuorum = random.chance(0.8);
  const fsyncDelay = random.pick([
    { minMs: 0, maxMs: 1 },
    { minMs: 1, maxMs: 5 },
    { minMs: 2, maxMs: 20 },
  ]);
  return {
    tickMs: TICK_MS,
    fsyncDelay,
    tornWriteProbability: random.chance(0.3) ? 0.5 : 0,
    raft: {
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: 2,
      // Drawn even when not allowed, so --no-pre-vote-runs leaves every other choice of a seed unchanged.
      preVote: random.chance(0.8) || !allowNoPreVote,
      checkQuorum,
      leaseRead: checkQuorum && random.chance(0.5),
      // 0 sends one entry per append, which splits a new leader's old entries from its own first one.
      maxSizePerMessageBytes: splitAppends ? 0 : random.pick([0, 64, 1024, MIB]),
      maxInflightMessages: random.pick([2, 16, 256]),
      injectedBugs: injectedBug === undefined ? [] : [injectedBug],
    },
  };
}

class Run {
  readonly random: SeededRandom;
  readonly nodeCount: number;
  readonly scheduler = new Scheduler();
  readonly network: SimNetwork<Message>;
  readonly checker: InvariantChecker;
  readonly counters = emptyCounters();
  readonly trace: Trace;
  readonly settings: NodeSettings;
  readonly cluster: SimCluster;
  readonly nemesis: Nemesis;
  readonly workload: Workload;
  readonly faultProfile: string;
  step = 0;
  private livenessProposalId: number | undefined;
  private livenessIndex: number | undefined;

  constructor(readonly options: SimulationOptions) {
    this.random = new SeededRandom(options.seed);
    this.checker = new InvariantChecker({ checkPromises: options.endToEndOnly !== true });
    const drawnNodeCount = this.random.chance(0.5) ? 3 : 5;
    this.nodeCount = options.nodeCount ?? drawnNodeCount;
    const profile = randomFaultProfile(this.random.fork());
    this.faultProfile = describeFaultProfile(profile);
    this.settings = randomNodeSettings(
      this.random.fork(),
      profile.leaderHazards,
      options.preVoteOnly !== true,
      options.injectedBug,
    );
    this.trace = new Trace(options.traceCapacity ?? 200, () => this.scheduler.nowMs, formatDetail);
    this.network = new SimNetwork<Message>({
      scheduler: this.scheduler,
      random: this.random.fork(),
      classify: (message) => MessageType[message.type]!,
      jitterMs: this.random.pick([0, 1, 5, 20]),
    });
    this.network.observe((event) => {
      this.trace.record(
        event.envelope.to,
        event.kind === "deliver" ? "recv" : `drop (${event.reason})`,
        event.envelope.message,
      );
    });
    // The cluster's callbacks only run once events do, by which time the workload and nemesis exist.
    this.cluster = new SimCluster({
      nodeCount: this.nodeCount,
      scheduler: this.scheduler,
      network: this.network,
      checker: this.checker,
      trace: this.trace,
      counters: this.counters,
      settings: this.settings,
      random: this.random.fork(),
      events: {
        messageSent: (host, message) => this.nemesis.messageSent(host, message),
        becameLeader: (host) => this.nemesis.becameLeader(host),
        leaderCommitted: (host) => this.nemesis.leaderCommitted(host),
      },
      onProposalApplied: (proposalId, index) => this.proposalApplied(proposalId, index),
    });
    this.workload = new Workload({
      cluster: this.cluster,
      random: this.random.fork(),
      checker: this.checker,
      counters: this.counters,
      trace: this.trace,
      maxMembers: this.nodeCount + 2,
      maxNodeIds: this.nodeCount + 12,
    });
    this.nemesis = new Nemesis({
      cluster: this.cluster,
      network: this.network,
      scheduler: this.scheduler,
      random: this.random.fork(),
      profile,
      counters: this.counters,
      trace: this.trace,
      fsyncMaxMs: this.settings.fsyncDelay.maxMs,
    });
  }

  runSteps(): void {
    for (this.step = 1; this.step <= this.options.steps; this.step++) {
      this.trace.step = this.step;
      this.workload.step();
      this.nemesis.step();
      this.cluster.collectRemovedNodes();
      this.scheduler.runFor(MIN_STEP_MS + this.random.intBelow(MAX_STEP_MS - MIN_STEP_MS + 1));
    }
  }

  /** After healing every fault, a leader must emerge and a fresh proposal reach every voter. */
  checkLiveness(): void {
    this.trace.step = this.step;
    this.nemesis.healAll();
    for (let waitedMs = 0; waitedMs < LIVENESS_TIMEOUT_MS; waitedMs += TICK_MS) {
      this.scheduler.runFor(TICK_MS);
      this.cluster.collectRemovedNodes();
      const leader = this.cluster.leader();
      if (leader === undefined) continue;
      if (this.livenessIndex === undefined) {
        if (this.livenessProposalId === undefined || waitedMs % (ELECTION_TICKS * TICK_MS) === 0) {
          this.livenessProposalId = this.workload.propose(leader) ?? this.livenessProposalId;
        }
        continue;
      }
      const index = this.livenessIndex;
      const voters = leader.applied.confState.voters;
      if (voters.every((id) => (this.cluster.host(id)?.applied.index ?? index) >= index)) return;
    }
    throw new InvariantViolation(
      "liveness",
      `no progress within ${LIVENESS_TIMEOUT_MS}ms after healing: ${this.describeNodes()}`,
    );
  }

  summary(): SimulationSummary {
    return {
      seed: this.options.seed,
      nodeCount: this.nodeCount,
      steps: this.options.steps,
      committedIndex: this.checker.maxCommittedIndex,
      termsWithLeader: this.checker.termsWithLeader,
      readsChecked: this.checker.checkedReadCount,
      virtualMs: this.scheduler.nowMs,
      events: this.scheduler.executedCount,
      counters: this.counters,
      faultProfile: this.faultProfile,
    };
  }

  describeNodes(): string {
    return this.cluster
      .members()
      .map((host) => {
        const { voters, learners } = host.applied.confState;
        return (
          `node ${host.id} ${host.roleName} term ${host.currentTerm} commit ${host.commitIndex} ` +
          `applied ${host.applied.index} leader ${host.knownLeader} voters [${voters}] learners [${learners}]`
        );
      })
      .join("; ");
  }

  private proposalApplied(proposalId: number, index: number): void {
    this.workload.proposalApplied(proposalId);
    if (proposalId === this.livenessProposalId && this.livenessIndex === undefined)
      this.livenessIndex = index;
  }
}

export function runSimulation(options: SimulationOptions): SimulationSummary {
  let run: Run | undefined;
  try {
    run = new Run(options);
    run.runSteps();
    run.step = options.steps + 1;
    run.checkLiveness();
    return run.summary();
  } catch (error) {
    throw toFailure(options, run, error);
  }
}

function toFailure(options: SimulationOptions, run: Run | undefined, error: unknown): SimulationFailure {
  const invariant =
    error instanceof InvariantViolation ? error.invariant : `raft-core-error (${errorName(error)})`;
  const detail = error instanceof InvariantViolation ? error.detail : errorText(error);
  const traceLines = run === undefined ? [] : [...run.trace.lines(), `nodes: ${run.describeNodes()}`];
  const flags = [
    options.injectedBug === undefined ? "" : `--bug ${options.injectedBug}`,
    options.endToEndOnly === true ? "--end-to-end-only" : "",
    options.preVoteOnly === true ? "--pre-vote-only" : "",
  ];
  const command = replayCommand(
    options.seed,
    options.steps,
    options.nodeCount,
    flags.filter((flag) => flag !== "").join(" "),
  );
  return new SimulationFailure(options.seed, run?.step ?? 0, invariant, detail, command, traceLines);
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

function errorText(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
