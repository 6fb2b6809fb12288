/**
 * Runs pd as a real child process (`node --import tsx services/pd/src/main.ts`), the way an operator
 * does, on free 127.0.0.1 ports. `spawnPd` resolves once the child logs "pd ready" with its addresses.
 * Every child is tracked and killed by a process exit hook, so a failing test never leaks a pd; tests still
 * stop their children in `after`/`finally`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const PD_MAIN = join(REPO_ROOT, "services", "pd", "src", "main.ts");
const DEFAULT_READY_TIMEOUT_MS = 30_000;
const OUTPUT_TAIL_BYTES = 16_384;

export interface SpawnPdOptions {
  readonly name: string;
  readonly dataDir: string;
  readonly etcdEndpoints?: readonly string[];
  /** More `--key value` flags. */
  readonly extraArgs?: readonly string[];
  readonly readyTimeoutMs?: number;
}

export interface PdProcess {
  readonly name: string;
  /** gRPC address "127.0.0.1:port". */
  readonly clientUrl: string;
  readonly httpUrl: string;
  readonly clusterId: bigint;
  readonly running: boolean;
  /** Sends `signal` and resolves with the exit code (null when killed by a signal). */
  kill(signal: NodeJS.Signals): Promise<number | null>;
  /** Recent stdout and stderr, for failure messages. */
  output(): string;
}

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of liveChildren) child.kill("SIGKILL");
  });
}

export async function spawnPd(options: SpawnPdOptions): Promise<PdProcess> {
  installExitHook();
  const args = [
    "--import",
    "tsx",
    PD_MAIN,
    "--name",
    options.name,
    "--data-dir",
    options.dataDir,
    "--client-port",
    "0",
    "--http-port",
    "0",
    ...(options.etcdEndpoints === undefined ? [] : ["--etcd.endpoints", options.etcdEndpoints.join(",")]),
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  liveChildren.add(child);
  let output = "";
  const append = (chunk: string): void => {
    output = (output + chunk).slice(-OUTPUT_TAIL_BYTES);
  };
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      liveChildren.delete(child);
      resolve(code);
    });
  });
  child.stderr.setEncoding("utf8").on("data", append);
  const ready = waitReady(
    child,
    append,
    exited,
    options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
    () => output,
  );
  let addresses: ReadyLine;
  try {
    addresses = await ready;
  } catch (error) {
    child.kill("SIGKILL");
    await exited;
    throw error;
  }
  return {
    name: options.name,
    clientUrl: addresses.clientUrl,
    httpUrl: addresses.httpUrl,
    clusterId: BigInt(addresses.clusterId),
    get running() {
      return liveChildren.has(child);
    },
    kill: async (signal) => {
      if (liveChildren.has(child)) child.kill(signal);
      return exited;
    },
    output: () => output,
  };
}

interface ReadyLine {
  readonly clientUrl: string;
  readonly httpUrl: string;
  readonly clusterId: string;
}

function waitReady(
  child: ChildProcess,
  append: (chunk: string) => void,
  exited: Promise<number | null>,
  timeoutMs: number,
  output: () => string,
): Promise<ReadyLine> {
  return new Promise((resolve, reject) => {
    let pending = "";
    const timer = setTimeout(
      () => reject(new Error(`pd did not log "pd ready" within ${timeoutMs} ms:\n${output()}`)),
      timeoutMs,
    );
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      append(chunk);
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const ready = parseReady(line);
        if (ready !== undefined) {
          clearTimeout(timer);
          resolve(ready);
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`pd exited with code ${code} before it was ready:\n${output()}`));
    });
  });
}

function parseReady(line: string): ReadyLine | undefined {
  if (!line.includes('"pd ready"')) return undefined;
  try {
    const record = JSON.parse(line) as Partial<ReadyLine> & { msg?: string };
    if (record.msg !== "pd ready" || record.clientUrl === undefined || record.httpUrl === undefined)
      return undefined;
    return { clientUrl: record.clientUrl, httpUrl: record.httpUrl, clusterId: String(record.clusterId) };
  } catch {
    return undefined;
  }
}
