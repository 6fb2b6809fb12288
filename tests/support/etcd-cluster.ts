/**
 * Real etcd members for tests, started from Debian's `etcd` binary (package `etcd-server`, 3.4) on free
 * 127.0.0.1 ports with throwaway data directories.
 *
 * Usage: `const etcd = await startEtcdCluster({ members: 3 }); after(() => etcd.stop());` — always stop in
 * `after`/`finally` so the processes die when a test fails. A `process.on("exit")` hook kills whatever a
 * crashed test left behind; a test runner killed with SIGKILL can still orphan members (nothing in Node can
 * prevent that), which is why every member also lives in a temp directory named after its port.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ETCD_BINARY = "/usr/bin/etcd";

const DEFAULT_START_TIMEOUT_MS = 20_000;
const HEALTH_POLL_INTERVAL_MS = 100;
const HEALTH_REQUEST_TIMEOUT_MS = 1_000;
/** Ports are picked by binding port 0 and closing it, so another process may grab one before etcd does. */
const MAX_START_ATTEMPTS = 4;
const STDERR_TAIL_BYTES = 8_192;
const STDERR_TAIL_LINES = 20;
/**
 * Faster than etcd's defaults (100 ms / 1000 ms) so tests that kill a member see a new etcd leader quickly;
 * still comfortably above loopback round trips on a loaded 2-core machine.
 */
const HEARTBEAT_INTERVAL_MS = 50;
const ELECTION_TIMEOUT_MS = 500;

export interface StartEtcdClusterOptions {
  readonly members: 1 | 3;
  /** Parent directory for the members' data directories; kept on stop (the caller owns it). Default: a temp dir removed on stop. */
  readonly dataDir?: string;
  /** Bound on waiting for the cluster to report healthy. */
  readonly startTimeoutMs?: number;
}

export interface EtcdMember {
  readonly name: string;
  /** `http://127.0.0.1:<port>` */
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly running: boolean;
}

export interface RestartOptions {
  /**
   * Wait until the member reports healthy (default true). Pass false when restarting members of a cluster
   * that has no quorum yet: a lone member of three never becomes healthy.
   */
  readonly waitForHealth?: boolean;
}

export interface EtcdCluster {
  /** Client URLs of all members, in member order (for `etcd3`'s `hosts`). */
  readonly endpoints: string[];
  readonly members: readonly EtcdMember[];
  /** Kills every member and removes the data directories it created. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL one member (a crash); its data directory stays for `restart`. */
  kill(index: number): Promise<void>;
  /** Starts a killed member again on the same ports and data directory. */
  restart(index: number, options?: RestartOptions): Promise<void>;
}

export class EtcdStartError extends Error {
  constructor(
    message: string,
    readonly memberName: string,
    readonly stderrTail: string,
  ) {
    super(`${message} (member ${memberName})\n--- etcd stderr (tail) ---\n${stderrTail}`);
    this.name = "EtcdStartError";
  }
}

/** Every child we started and have not seen exit; the exit hook kills them so no test leaks a member. */
const liveProcesses = new Set<ChildProcess>();
const ownedDirectories = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of liveProcesses) child.kill("SIGKILL");
    for (const directory of ownedDirectories) rmSync(directory, { recursive: true, force: true });
  });
}

class MemberProcess implements EtcdMember {
  private child: ChildProcess | undefined;
  private stderrTail = "";
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly dataDir: string,
  ) {}

  get clientUrl(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  get peerUrl(): string {
    return `http://127.0.0.1:${this.peerPort}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  stderr(): string {
    return this.stderrTail.split("\n").slice(-STDERR_TAIL_LINES).join("\n");
  }

  spawn(initialCluster: string): void {
    if (this.child) throw new Error(`etcd member ${this.name} is already running`);
    this.stderrTail = "";
    const child = spawn(ETCD_BINARY, this.arguments(initialCluster), { stdio: ["ignore", "ignore", "pipe"] });
    this.child = child;
    liveProcesses.add(child);
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
    });
    this.exited = new Promise<void>((resolve) => {
      const onGone = (): void => {
        liveProcesses.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      };
      child.once("exit", onGone);
      // A spawn failure (missing binary) emits "error" and possibly no "exit".
      child.once("error", (error) => {
        this.stderrTail += `\nspawn ${ETCD_BINARY} failed: ${error.message}`;
        onGone();
      });
    });
  }

  async kill(): Promise<void> {
    this.child?.kill("SIGKILL");
    await this.exited;
  }

  private arguments(initialCluster: string): string[] {
    return [
      `--name=${this.name}`,
      `--data-dir=${this.dataDir}`,
      `--listen-client-urls=${this.clientUrl}`,
      `--advertise-client-urls=${this.clientUrl}`,
      `--listen-peer-urls=${this.peerUrl}`,
      `--initial-advertise-peer-urls=${this.peerUrl}`,
      `--initial-cluster=${initialCluster}`,
      "--initial-cluster-state=new",
      "--initial-cluster-token=tessera-test",
      `--heartbeat-interval=${HEARTBEAT_INTERVAL_MS}`,
      `--election-timeout=${ELECTION_TIMEOUT_MS}`,
      "--logger=zap",
      "--log-outputs=stderr",
    ];
  }
}

export async function startEtcdCluster(options: StartEtcdClusterOptions): Promise<EtcdCluster> {
  installExitHook();
  const timeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const baseDirectory = options.dataDir ?? mkdtempSync(join(tmpdir(), "tessera-etcd-"));
  if (options.dataDir === undefined) ownedDirectories.add(baseDirectory);
  let lastError: unknown;
  for (let attempt = 1; attempt <= MAX_START_ATTEMPTS; attempt++) {
    const members = await allocateMembers(options.members, join(baseDirectory, `attempt-${attempt}`));
    const initialCluster = members.map((member) => `${member.name}=${member.peerUrl}`).join(",");
    try {
      for (const member of members) member.spawn(initialCluster);
      await Promise.all(members.map((member) => waitHealthy(member, timeoutMs)));
      return clusterHandle(members, initialCluster, baseDirectory, options.dataDir === undefined, timeoutMs);
    } catch (error) {
      await Promise.all(members.map((member) => member.kill()));
      lastError = error;
      if (!(error instanceof EtcdStartError && error.stderrTail.includes("address already in use"))) break;
    }
  }
  if (options.dataDir === undefined) removeDirectory(baseDirectory);
  throw lastError;
}

async function allocateMembers(count: number, directory: string): Promise<MemberProcess[]> {
  const members: MemberProcess[] = [];
  for (let index = 0; index < count; index++) {
    const name = `etcd-${index}`;
    const dataDir = join(directory, name);
    mkdirSync(dataDir, { recursive: true });
    members.push(new MemberProcess(name, await freePort(), await freePort(), dataDir));
  }
  return members;
}

function clusterHandle(
  members: MemberProcess[],
  initialCluster: string,
  baseDirectory: string,
  ownsDirectory: boolean,
  timeoutMs: number,
): EtcdCluster {
  const memberAt = (index: number): MemberProcess => {
    const member = members[index];
    if (!member) throw new RangeError(`no etcd member ${index}; the cluster has ${members.length}`);
    return member;
  };
  let stopped = false;
  return {
    endpoints: members.map((member) => member.clientUrl),
    members,
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(members.map((member) => member.kill()));
      if (ownsDirectory) removeDirectory(baseDirectory);
    },
    async kill(index) {
      await memberAt(index).kill();
    },
    async restart(index, restartOptions) {
      if (stopped) throw new Error("etcd cluster already stopped");
      const member = memberAt(index);
      member.spawn(initialCluster);
      if (restartOptions?.waitForHealth === false) return;
      try {
        await waitHealthy(member, timeoutMs);
      } catch (error) {
        await member.kill();
        throw error;
      }
    },
  };
}

function removeDirectory(directory: string): void {
  rmSync(directory, { recursive: true, force: true });
  ownedDirectories.delete(directory);
}

/** Binds port 0 and releases it; the caller retries the whole start if etcd then finds the port taken. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("could not read a free port"))));
    });
  });
}

/** Polls `GET /health`, which etcd answers `{"health":"true"}` only once the member sees a raft leader. */
async function waitHealthy(member: MemberProcess, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let lastProblem = "no answer yet";
  while (performance.now() < deadline) {
    if (!member.running) {
      throw new EtcdStartError("etcd exited during start-up", member.name, member.stderr());
    }
    try {
      const body = await httpGet(`${member.clientUrl}/health`);
      if (/"health"\s*:\s*"true"/.test(body)) return;
      lastProblem = `unhealthy: ${body.trim()}`;
    } catch (error) {
      lastProblem = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_INTERVAL_MS));
  }
  throw new EtcdStartError(
    `etcd not healthy at ${member.clientUrl} after ${timeoutMs} ms (${lastProblem})`,
    member.name,
    member.stderr(),
  );
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const call = request(url, { timeout: HEALTH_REQUEST_TIMEOUT_MS }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
      });
      response.on("end", () => resolve(body));
      response.on("error", reject);
    });
    call.on("timeout", () => call.destroy(new Error(`GET ${url} timed out`)));
    call.on("error", reject);
    call.end();
  });
}
