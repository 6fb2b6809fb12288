/**
 * Test-only: runs a store as a real child process (`node --import tsx services/tikv-store/src/main.ts`,
 * what `npm run store` runs, without npm in between so signals reach the store itself) on free
 * 127.0.0.1 ports. `spawnStore` resolves once the child logs "store ready" with its id and addresses.
 * Children are killed by a process exit hook, so a failing test never leaks one.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
const STORE_MAIN = join(REPO_ROOT, "services", "tikv-store", "src", "main.ts");
const READY_TIMEOUT_MS = 30_000;
const OUTPUT_TAIL_BYTES = 32_768;

export interface StoreProcess {
  readonly storeId: bigint;
  readonly address: string;
  readonly statusAddress: string;
  /** Sends `signal` and resolves with the exit code (null when killed by a signal). */
  kill(signal: NodeJS.Signals): Promise<number | null>;
  /** Recent stdout and stderr, for failure messages. */
  output(): string;
}

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

export async function spawnStore(options: {
  readonly dataDir: string;
  readonly pdEndpoint: string;
  readonly extraArgs?: readonly string[];
}): Promise<StoreProcess> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const child of liveChildren) child.kill("SIGKILL");
    });
  }
  const args = [
    "--import",
    "tsx",
    STORE_MAIN,
    "--data-dir",
    options.dataDir,
    "--server.addr",
    "127.0.0.1:0",
    "--server.status-addr",
    "127.0.0.1:0",
    "--pd.endpoints",
    options.pdEndpoint,
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  liveChildren.add(child);
  let output = "";
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      liveChildren.delete(child);
      resolve(code);
    });
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    output = (output + chunk).slice(-OUTPUT_TAIL_BYTES);
  });
  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`store not ready in ${READY_TIMEOUT_MS} ms:\n${output}`)),
      READY_TIMEOUT_MS,
    );
    let pending = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      output = (output + chunk).slice(-OUTPUT_TAIL_BYTES);
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const parsed = parseReady(line);
        if (parsed === undefined) continue;
        clearTimeout(timer);
        resolve(parsed);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`store exited with code ${code} before it was ready:\n${output}`));
    });
  }).catch(async (error: unknown) => {
    child.kill("SIGKILL");
    await exited;
    throw error;
  });
  return {
    storeId: BigInt(ready.storeId),
    address: ready.address,
    statusAddress: ready.statusAddress,
    kill: async (signal) => {
      if (liveChildren.has(child)) child.kill(signal);
      return exited;
    },
    output: () => output,
  };
}

interface ReadyLine {
  readonly storeId: string;
  readonly address: string;
  readonly statusAddress: string;
}

function parseReady(line: string): ReadyLine | undefined {
  if (!line.includes('"store ready"')) return undefined;
  try {
    const record = JSON.parse(line) as Partial<ReadyLine> & { msg?: string };
    if (record.msg !== "store ready" || record.address === undefined || record.statusAddress === undefined) {
      return undefined;
    }
    return { storeId: String(record.storeId), address: record.address, statusAddress: record.statusAddress };
  } catch {
    return undefined;
  }
}
