/**
 * The members the launcher started, in start order: etcd, then pd, then stores, each group healthy
 * before the next starts (stores need pd, pd members need etcd). Stopping runs the other way round:
 * stores first, while pd still answers them as they hand their leaders over, then pd, then etcd.
 */
import { type ClusterPlan, type Member, type MemberRole, membersOf, portsOf } from "./cluster-plan.ts";
import { describeExit, type ExitStatus, ManagedChild } from "./managed-child.ts";
import type { StopOutcome } from "./process-control.ts";
import {
  deadlineIn,
  type ReadinessDeadline,
  STARTUP_TIMEOUT_MS,
  waitUntilClusterReady,
  waitUntilHealthy,
} from "./readiness.ts";
import type { MemberState, PlaygroundState } from "./state-file.ts";

export const STOP_ORDER: readonly MemberRole[] = ["store", "pd", "etcd"];

export interface MemberStopReport {
  readonly name: string;
  readonly outcome: StopOutcome;
  readonly exit: ExitStatus | undefined;
}

export class RunningCluster {
  private readonly children: ManagedChild[] = [];

  constructor(
    readonly plan: ClusterPlan,
    private readonly onChange: (cluster: RunningCluster) => void,
    private readonly progress: (text: string) => void,
  ) {}

  get members(): readonly ManagedChild[] {
    return this.children;
  }

  /**
   * Starts every member and waits until the cluster serves; on failure, or when `interrupt` aborts
   * (throwing its reason), the caller must `stop()`.
   */
  async start(interrupt: AbortSignal): Promise<void> {
    const deadline = deadlineIn(STARTUP_TIMEOUT_MS);
    if (this.plan.etcd !== undefined) await this.startGroup([this.plan.etcd], deadline, interrupt);
    await this.startGroup(this.plan.pd, deadline, interrupt);
    await this.startGroup(this.plan.stores, deadline, interrupt);
    this.progress(
      `waiting for the stores to register and the first region to elect a leader and reach ${this.plan.replicas} voters`,
    );
    await waitUntilClusterReady(
      this.children,
      {
        pdHttpUrl: this.plan.pd[0]!.httpUrl,
        storeAddresses: this.plan.stores.map((store) => store.address),
        replicas: this.plan.replicas,
      },
      deadline,
      interrupt,
    );
  }

  /** Stops role by role in STOP_ORDER, the members of one role in parallel. */
  async stop(): Promise<readonly MemberStopReport[]> {
    const reports: MemberStopReport[] = [];
    for (const role of STOP_ORDER) {
      const group = this.children.filter((child) => child.member.role === role);
      const outcomes = await Promise.all(group.map((child) => child.stop()));
      group.forEach((child, index) => {
        reports.push({ name: child.member.name, outcome: outcomes[index]!, exit: child.status });
      });
    }
    this.onChange(this);
    return reports;
  }

  /** Kills every member at once, for an operator who pressed Ctrl-C a second time. */
  kill(): void {
    for (const child of this.children) if (child.status === undefined) child.kill();
  }

  /** Lets the launcher exit and leave the members running (--detach). */
  release(): void {
    for (const child of this.children) child.release();
  }

  state(options: {
    readonly detached: boolean;
    readonly launcherPid: number | null;
    readonly ready: boolean;
  }): PlaygroundState {
    const started = new Map(this.children.map((child) => [child.member.name, child]));
    return {
      version: 1,
      pdCount: this.plan.pd.length,
      detached: options.detached,
      launcherPid: options.launcherPid,
      ready: options.ready,
      updatedAt: new Date().toISOString(),
      members: membersOf(this.plan).map((member) => memberState(member, started.get(member.name))),
    };
  }

  private async startGroup(
    members: readonly Member[],
    deadline: ReadinessDeadline,
    interrupt: AbortSignal,
  ): Promise<void> {
    for (const member of members) {
      interrupt.throwIfAborted();
      this.progress(`starting ${member.name} (log: ${member.logPath})`);
      this.children.push(await ManagedChild.start(member));
    }
    this.onChange(this);
    const group = this.children.filter((child) => members.includes(child.member));
    await Promise.all(group.map((child) => waitUntilHealthy(child, deadline, interrupt)));
  }
}

export function isCleanStop(reports: readonly MemberStopReport[]): boolean {
  return reports.every((report) => report.outcome === "stopped" && report.exit?.code === 0);
}

const OUTCOME_TEXT: Readonly<Record<StopOutcome, string>> = {
  stopped: "stopped",
  "not-running": "had already exited",
  killed: "did not stop in time and was killed",
  survived: "survived SIGKILL",
};

export function describeStopReport(report: MemberStopReport): string {
  const exit = report.exit === undefined ? "" : ` (${describeExit(report.exit)})`;
  return `${report.name} ${OUTCOME_TEXT[report.outcome]}${exit}`;
}

function memberState(member: Member, child: ManagedChild | undefined): MemberState {
  const running = child !== undefined && child.status === undefined;
  return {
    name: member.name,
    role: member.role,
    pid: running ? child.pid : null,
    ports: portsOf(member),
    ...endpointsOf(member),
    dataDir: member.dataDir,
    logPath: member.logPath,
    stopTimeoutMs: member.stopTimeoutMs,
  };
}

function endpointsOf(member: Member): Pick<MemberState, "endpoint" | "httpUrl"> {
  switch (member.role) {
    case "etcd":
      return { endpoint: member.clientUrl, httpUrl: member.clientUrl };
    case "pd":
      return { endpoint: member.clientAddress, httpUrl: member.httpUrl };
    case "store":
      return { endpoint: member.address, httpUrl: member.statusUrl };
  }
}
