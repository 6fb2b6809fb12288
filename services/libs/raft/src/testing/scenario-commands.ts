import type { InjectedBug } from "../injected-bug.ts";
import { type ConfChange, ConfChangeType, type NodeId } from "../types.ts";
import type { CommandArgument, DataDrivenCase } from "./data-driven.ts";
import { INJECTED_BUGS, isInjectedBug } from "./injected-bugs.ts";
import {
  DEFAULT_SCENARIO_NODE_OPTIONS,
  type ScenarioEnvironment,
  type ScenarioNodeOptions,
} from "./scenario-environment.ts";

/*
 * Commands of the scenario files (testdata/*.txt); node ids are bare numbers:
 *   log-level none|info                    show the nodes' log events (INFO lines) or not
 *   add-nodes <n> [voters=(..)] [learners=(..)] [index=<i>] [pre-vote=bool] [check-quorum=bool]
 *             [lease-read=bool] [election=<ticks>] [heartbeat=<ticks>] [lease=<ticks>]
 *             [max-size-per-msg=<bytes>] [max-inflight=<n>] [bugs=(<injected bug>,..)]
 *                                          add nodes, bootstrapped from a snapshot at <i> when given
 *   set-election-jitter <id> <ticks>       pin the random part of a node's election timeout
 *   campaign <id> | propose <id> <data> | propose-conf-change <id> v<n>|l<n>|r<n>
 *   read-index <id> <context> | transfer-leader from=<id> to=<id> | report-unreachable <id> <peer>
 *   process-ready <id>...                  hand out, persist, send, apply and advance one Ready each
 *   deliver-msgs [drop=(..)] <id>...       drop the queued messages to some nodes, deliver to others
 *   stabilize [<id>...]                    repeat Ready handling and delivery until nothing changes
 *   tick <id> [n] | tick-heartbeat <id> [rounds] | tick-election <id>
 *   partition (..) (..) | heal             drop messages sent between the groups, or stop doing so
 *   compact <id> <index>                   snapshot the state machine and discard the log up to index
 *   restart <id>                           lose volatile state; come back from storage
 *   status <id> | raft-state | raft-log <id> | applied [<id>...]
 */

export class ScenarioCommandError extends Error {
  override readonly name = "ScenarioCommandError";
  constructor(testCase: DataDrivenCase, reason: string) {
    super(`line ${testCase.line}: ${testCase.command}: ${reason}`);
  }
}

type CommandHandler = (env: ScenarioEnvironment, args: Arguments) => void;

/** Typed access to a command's arguments, failing with the command's line on misuse. */
class Arguments {
  constructor(
    private readonly testCase: DataDrivenCase,
    readonly list: readonly CommandArgument[],
  ) {}

  fail(reason: string): never {
    throw new ScenarioCommandError(this.testCase, reason);
  }

  /** Bare numeric arguments (node ids, counts), in order. */
  numbers(): number[] {
    return this.list
      .filter((arg) => arg.values.length === 0 && /^\d+$/.test(arg.key))
      .map((arg) => Number(arg.key));
  }

  /** Bare non-numeric words, in order. */
  words(): string[] {
    return this.list.filter((arg) => arg.values.length === 0 && !/^\d+$/.test(arg.key)).map((arg) => arg.key);
  }

  groups(): number[][] {
    return this.list.filter((arg) => arg.key === "").map((arg) => arg.values.map(Number));
  }

  get(key: string): readonly string[] | undefined {
    return this.list.find((arg) => arg.key === key && arg.values.length > 0)?.values;
  }

  number(key: string): number | undefined {
    const values = this.get(key);
    return values === undefined ? undefined : Number(values[0]);
  }

  requiredNumber(key: string): number {
    return this.number(key) ?? this.fail(`missing ${key}=`);
  }

  boolean(key: string): boolean | undefined {
    const values = this.get(key);
    return values === undefined ? undefined : values[0] === "true";
  }

  ids(key: string): NodeId[] {
    return (this.get(key) ?? []).map(Number);
  }

  firstId(): NodeId {
    return this.numbers()[0] ?? this.fail("missing node id");
  }
}

function injectedBugs(args: Arguments): InjectedBug[] {
  return (args.get("bugs") ?? []).map((name) =>
    isInjectedBug(name) ? name : args.fail(`unknown bug ${name} (one of ${INJECTED_BUGS.join(", ")})`),
  );
}

function nodeOptions(args: Arguments): ScenarioNodeOptions {
  const defaults = DEFAULT_SCENARIO_NODE_OPTIONS;
  return {
    electionTicks: args.number("election") ?? defaults.electionTicks,
    heartbeatTicks: args.number("heartbeat") ?? defaults.heartbeatTicks,
    preVote: args.boolean("pre-vote") ?? defaults.preVote,
    checkQuorum: args.boolean("check-quorum") ?? defaults.checkQuorum,
    leaseRead: args.boolean("lease-read") ?? defaults.leaseRead,
    maxSizePerMessageBytes: args.number("max-size-per-msg") ?? defaults.maxSizePerMessageBytes,
    maxInflightMessages: args.number("max-inflight") ?? defaults.maxInflightMessages,
    leaseTicks: args.number("lease") ?? defaults.leaseTicks,
    injectedBugs: injectedBugs(args),
  };
}

function parseConfChange(args: Arguments, text: string): ConfChange {
  const match =
    /^([vlr])(\d+)$/.exec(text) ?? args.fail(`bad conf change ${text} (want v<id>, l<id> or r<id>)`);
  const type =
    match[1] === "v"
      ? ConfChangeType.AddNode
      : match[1] === "l"
        ? ConfChangeType.AddLearnerNode
        : ConfChangeType.RemoveNode;
  return { type, nodeId: Number(match[2]) };
}

function reportError(env: ScenarioEnvironment, action: () => void): void {
  try {
    action();
  } catch (error) {
    env.print(`error: ${(error as Error).message}`);
  }
}

function tick(env: ScenarioEnvironment, id: NodeId, count: number): void {
  for (let i = 0; i < count; i++) env.node(id).raw.tick();
}

const COMMANDS: Readonly<Record<string, CommandHandler>> = {
  "log-level": (env, args) => {
    const level = args.words()[0];
    if (level !== "none" && level !== "info") args.fail(`unknown log level ${level}`);
    env.logEnabled = level === "info";
  },
  "add-nodes": (env, args) => {
    const count = args.numbers()[0] ?? args.fail("missing node count");
    const voters = args.ids("voters");
    const learners = args.ids("learners");
    const index = args.number("index") ?? 0;
    const bootstrap = voters.length + learners.length > 0 ? { voters, learners } : undefined;
    const firstId = env.nodes.size + 1;
    for (let id = firstId; id < firstId + count; id++) env.addNode(id, nodeOptions(args), bootstrap, index);
  },
  campaign: (env, args) => env.node(args.firstId()).raw.campaign(),
  propose: (env, args) => {
    const data = args.words()[0] ?? args.fail("missing data");
    reportError(env, () => env.node(args.firstId()).raw.propose(env.encode(data)));
  },
  "propose-conf-change": (env, args) => {
    const change = parseConfChange(args, args.words()[0] ?? args.fail("missing change"));
    reportError(env, () => env.node(args.firstId()).raw.proposeConfChange(change));
  },
  "process-ready": (env, args) => {
    const ids = args.numbers();
    for (const id of ids) {
      if (ids.length === 1) {
        env.processReady(id);
      } else {
        env.print(`> ${id} handling Ready`);
        env.withIndent(() => env.processReady(id));
      }
    }
  },
  "deliver-msgs": (env, args) => {
    for (const id of args.ids("drop")) env.dropMessagesTo(id);
    for (const id of args.numbers()) env.deliver(id);
  },
  stabilize: (env, args) => {
    const ids = args.numbers();
    env.stabilize(ids.length > 0 ? ids : [...env.nodes.keys()]);
  },
  tick: (env, args) => {
    const [id, count] = args.numbers();
    tick(env, id ?? args.fail("missing node id"), count ?? 1);
  },
  "tick-heartbeat": (env, args) => {
    const [id, rounds] = args.numbers();
    const node = env.node(id ?? args.fail("missing node id"));
    tick(env, node.id, node.options.heartbeatTicks * (rounds ?? 1));
  },
  "tick-election": (env, args) => {
    const node = env.node(args.firstId());
    tick(env, node.id, node.options.electionTicks);
  },
  "set-election-jitter": (env, args) => {
    // Takes effect at the node's next role change, when the election timeout is drawn again.
    const [id, jitter] = args.numbers();
    if (id === undefined || jitter === undefined) args.fail("usage: set-election-jitter <id> <ticks>");
    env.electionJitter.set(id, jitter);
  },
  "transfer-leader": (env, args) => {
    env.node(args.requiredNumber("from")).raw.transferLeader(args.requiredNumber("to"));
  },
  compact: (env, args) => {
    const [id, index] = args.numbers();
    if (id === undefined || index === undefined) args.fail("usage: compact <id> <index>");
    reportError(env, () => env.compact(id, index));
    env.print(env.describeLog(id));
  },
  "read-index": (env, args) => {
    const context = args.words()[0] ?? args.fail("missing request context");
    env.node(args.firstId()).raw.readIndex(env.encode(context));
  },
  partition: (env, args) => env.setPartition(args.groups()),
  heal: (env) => env.setPartition([]),
  restart: (env, args) => env.restart(args.firstId()),
  "report-unreachable": (env, args) => {
    const [id, peer] = args.numbers();
    if (id === undefined || peer === undefined) args.fail("usage: report-unreachable <id> <peer>");
    env.node(id).raw.reportUnreachable(peer);
  },
  status: (env, args) => env.print(env.describeStatus(args.firstId())),
  "raft-state": (env) => env.print(env.describeRaftState()),
  "raft-log": (env, args) => env.print(env.describeLog(args.firstId())),
  applied: (env, args) => {
    const ids = args.numbers();
    for (const id of ids.length > 0 ? ids : [...env.nodes.keys()]) env.print(env.describeApplied(id));
  },
};

/** Runs one scenario command and returns its output ("ok" when it printed nothing). */
export function runScenarioCommand(env: ScenarioEnvironment, testCase: DataDrivenCase): string {
  const handler = COMMANDS[testCase.command];
  if (handler === undefined) throw new ScenarioCommandError(testCase, "unknown command");
  handler(env, new Arguments(testCase, testCase.arguments));
  const output = env.takeOutput();
  return output === "" ? "ok" : output;
}
