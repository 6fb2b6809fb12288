/**
 * Test-only: crashes a writer process with SIGKILL, which gives RocksDB no chance to flush or close, right
 * after the writer acknowledged a number of writes; the test then reopens the data and checks that every
 * acknowledged write survived.
 *
 * A writer is a TypeScript script that takes its data directory as its only argument and sends
 * `{ acknowledged: n }` over IPC once write n is durable.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

const CHILD_TIMEOUT_MS = 30_000;

export interface KilledWriterOptions {
  readonly writer: URL;
  readonly directory: string;
  readonly acknowledgementsBeforeKill: number;
}

/** Returns the highest write the writer acknowledged before it died. */
export async function runWriterUntilKilled(options: KilledWriterOptions): Promise<number> {
  const child = fork(fileURLToPath(options.writer), [options.directory], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on("exit", (_code, signal) => resolve(signal)),
  );
  let acknowledgements = 0;
  let highest = Number.NEGATIVE_INFINITY;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`writer made no progress: ${stderr}`)),
        CHILD_TIMEOUT_MS,
      );
      child.on("message", (message: { acknowledged: number }) => {
        acknowledgements++;
        highest = Math.max(highest, message.acknowledged);
        if (acknowledgements < options.acknowledgementsBeforeKill) return;
        // Killed right after an acknowledgement, while the next write is already under way.
        child.kill("SIGKILL");
        clearTimeout(timer);
        resolve();
      });
      void exited.then((signal) => {
        clearTimeout(timer);
        if (signal !== "SIGKILL") reject(new Error(`writer exited early: ${stderr}`));
      });
    });
  } finally {
    child.kill("SIGKILL");
    // The dead writer's RocksDB locks are released only once the process is gone.
    await exited;
  }
  return highest;
}
