// Spawned by shutdown.test.ts: registers three closers, reports readiness, and waits for a signal.
import { systemTimers } from "../clock.ts";
import { GracefulShutdown } from "../shutdown.ts";

const write = (fields: object, message: string): void => {
  process.stdout.write(`${JSON.stringify({ ...fields, message })}\n`);
};
const shutdown = new GracefulShutdown({ logger: { info: write, error: write }, deadlineMs: 10_000 });
for (const name of ["storage", "raftstore", "grpc-server"]) {
  shutdown.register(name, async () => {
    await new Promise<void>((resolve) => systemTimers.setTimeout(resolve, 5));
    process.stdout.write(`closing ${name}\n`);
  });
}
// Keeps the process alive until shutdown, like a listening server would.
const keepAlive = systemTimers.setInterval(() => {}, 1_000);
shutdown.register("keep-alive", () => keepAlive.cancel());
shutdown.installSignalHandlers();
process.stdout.write("ready\n");
