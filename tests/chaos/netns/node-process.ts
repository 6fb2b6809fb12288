/**
 * One service process (pd or a store) started inside a node's namespace with the entry point users run,
 * `ip netns exec <ns> node --import tsx services/.../main.ts <flags>`. `ip netns exec` execs (it does not
 * fork), so the child's pid is the service itself and signals (SIGKILL, SIGSTOP, SIGCONT) reach it directly.
 * The process can be killed and started again with the same flags on the same data directory.
 */
import { type ChildProcess, spawn } from "node:child_process";

const OUTPUT_TAIL_BYTES = 16_384;
const DEFAULT_READY_TIMEOUT_MS = 60_000;

export interface NodeProcessOptions {
  readonly name: string;
  /** The full command line, namespace prefix included. */
  readonly command: readonly string[];
  readonly cwd: string;
  /** The pino `msg` of the log line the service prints once it serves. */
  readonly readyMessage: string;
  readonly readyTimeoutMs?: number;
}

/** Every child of every NodeProcess, killed on exit so a crashing runner leaves no service behind. */
const liveChildren = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of liveChildren) child.kill("SIGKILL");
});

export class NodeProcessError extends Error {
  constructor(
    readonly processName: string,
    detail: string,
    readonly outputTail: string,
  ) {
    super(`${processName}: ${detail}\n--- output (tail) ---\n${outputTail}`);
    this.name = "NodeProcessError";
  }
}

export class NodeProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private outputTail = "";
  private paused = false;
  private ready: Readonly<Record<string, unknown>> = {};

  constructor(private readonly options: NodeProcessOptions) {}

  get name(): string {
    return this.options.name;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** The fields of the ready log line (e.g. the addresses the service bound). */
  get readyRecord(): Readonly<Record<string, unknown>> {
    return this.ready;
  }

  output(): string {
    return this.outputTail;
  }

  /** Starts the process and resolves once it logged its ready line. */
  async start(): Promise<void> {
    if (this.child !== undefined) throw new Error(`${this.name} is already running`);
    const [file, ...args] = this.options.command;
    if (file === undefined) throw new Error(`${this.name} has no command`);
    const child = spawn(file, args, { cwd: this.options.cwd, stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    this.paused = false;
    liveChildren.add(child);
    this.exited = new Promise((resolve) => {
      child.once("exit", () => {
        liveChildren.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => this.append(chunk));
    try {
      await this.waitReady(child);
    } catch (error) {
      await this.kill();
      throw error;
    }
  }

  /** kill -9: the process gets no chance to flush or say goodbye. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill("SIGKILL");
    await this.exited;
    this.paused = false;
  }

  /** SIGTERM, then SIGKILL if the process has not exited within `graceMs` (a graceful stop hung). */
  async stop(graceMs: number): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.resume();
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  pause(): void {
    if (this.child === undefined || this.paused) return;
    this.child.kill("SIGSTOP");
    this.paused = true;
  }

  resume(): void {
    if (this.child === undefined || !this.paused) return;
    this.child.kill("SIGCONT");
    this.paused = false;
  }

  private append(chunk: string): void {
    this.outputTail = (this.outputTail + chunk).slice(-OUTPUT_TAIL_BYTES);
  }

  private waitReady(child: ChildProcess): Promise<void> {
    const timeoutMs = this.options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      let pending = "";
      const timer = setTimeout(
        () => reject(new NodeProcessError(this.name, `not ready within ${timeoutMs} ms`, this.outputTail)),
        timeoutMs,
      );
      child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
        this.append(chunk);
        pending += chunk;
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) {
          const record = parseReadyLine(line, this.options.readyMessage);
          if (record === undefined) continue;
          this.ready = record;
          clearTimeout(timer);
          resolve();
        }
      });
      void this.exited.then(() => {
        clearTimeout(timer);
        reject(new NodeProcessError(this.name, "exited before it was ready", this.outputTail));
      });
    });
  }
}

function parseReadyLine(line: string, readyMessage: string): Record<string, unknown> | undefined {
  if (!line.includes(readyMessage)) return undefined;
  try {
    const record = JSON.parse(line) as Record<string, unknown>;
    return record.msg === readyMessage ? record : undefined;
  } catch {
    return undefined;
  }
}
