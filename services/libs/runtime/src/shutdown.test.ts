import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { TimerHandle, Timers } from "./clock.ts";
import { GracefulShutdown, type ProcessLike, REPEATED_SIGNAL_WINDOW_MS } from "./shutdown.ts";

type SignalListener = (signal: NodeJS.Signals) => void;

class FakeProcess implements ProcessLike {
  readonly exitCodes: number[] = [];
  readonly listeners = new Map<NodeJS.Signals, Set<SignalListener>>();

  on(signal: NodeJS.Signals, listener: SignalListener): void {
    if (!this.listeners.has(signal)) this.listeners.set(signal, new Set());
    this.listeners.get(signal)!.add(listener);
  }

  off(signal: NodeJS.Signals, listener: SignalListener): void {
    this.listeners.get(signal)?.delete(listener);
  }

  exit(code: number): void {
    this.exitCodes.push(code);
  }

  emit(signal: NodeJS.Signals): void {
    for (const listener of this.listeners.get(signal) ?? []) listener(signal);
  }
}

/** Timers that never fire on their own; the test fires the deadline explicitly. */
class ManualTimers implements Timers {
  readonly pending = new Set<() => void>();

  setTimeout(callback: () => void): TimerHandle {
    this.pending.add(callback);
    return { cancel: () => this.pending.delete(callback) };
  }

  setInterval(callback: () => void): TimerHandle {
    return this.setTimeout(callback);
  }

  fireAll(): void {
    const callbacks = [...this.pending];
    this.pending.clear();
    for (const callback of callbacks) callback();
  }
}

interface LogLine {
  readonly level: "info" | "error";
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

function recordingLogger(lines: LogLine[]) {
  return {
    info: (fields: object, message: string) => lines.push({ level: "info", fields: { ...fields }, message }),
    error: (fields: object, message: string) =>
      lines.push({ level: "error", fields: { ...fields }, message }),
  };
}

function setup(deadlineMs = 1_000) {
  const lines: LogLine[] = [];
  const fakeProcess = new FakeProcess();
  const timers = new ManualTimers();
  const clock = { nowMs: () => clock.currentMs, monotonicMs: () => clock.currentMs, currentMs: 0 };
  const shutdown = new GracefulShutdown({
    logger: recordingLogger(lines),
    deadlineMs,
    process: fakeProcess,
    timers,
    clock,
  });
  return { lines, fakeProcess, timers, clock, shutdown };
}

describe("GracefulShutdown", () => {
  it("runs closers in reverse registration order on SIGTERM and exits 0", async () => {
    const { lines, fakeProcess, timers, shutdown } = setup();
    const order: string[] = [];
    shutdown.register("storage", () => {
      order.push("storage");
    });
    shutdown.register("server", async () => {
      await Promise.resolve();
      order.push("server");
    });
    shutdown.installSignalHandlers();
    fakeProcess.emit("SIGTERM");
    assert.equal(shutdown.isShuttingDown, true);
    await shutdown.shutdown("ignored: already running");
    assert.deepEqual(order, ["server", "storage"]);
    assert.deepEqual(fakeProcess.exitCodes, [0]);
    assert.equal(timers.pending.size, 0, "the deadline timer is cancelled");
    const closedLines = lines.filter((line) => line.message === "closed").map((line) => line.fields.closer);
    assert.deepEqual(closedLines, ["server", "storage"]);
    assert.equal(lines[0]!.fields.reason, "signal SIGTERM");
  });

  it("keeps closing after a closer throws, then exits non-zero", async () => {
    const { lines, fakeProcess, shutdown } = setup();
    const order: string[] = [];
    shutdown.register("storage", () => {
      order.push("storage");
    });
    shutdown.register("broken", () => {
      throw new Error("boom");
    });
    await shutdown.shutdown("test");
    assert.deepEqual(order, ["storage"]);
    assert.deepEqual(fakeProcess.exitCodes, [1]);
    const failure = lines.find((line) => line.message.startsWith("close failed"));
    assert.equal(failure?.fields.closer, "broken");
  });

  it("names the stuck closer and exits non-zero when the deadline passes", async () => {
    const { lines, fakeProcess, timers, shutdown } = setup(500);
    let storageClosed = false;
    shutdown.register("storage", () => {
      storageClosed = true;
    });
    shutdown.register("stuck-raftstore", () => new Promise<void>(() => {}));
    const done = shutdown.shutdown("test");
    await Promise.resolve();
    timers.fireAll();
    await done;
    assert.deepEqual(fakeProcess.exitCodes, [1]);
    const deadlineLine = lines.find((line) => line.message === "shutdown deadline passed");
    assert.deepEqual(deadlineLine?.fields, { closer: "stuck-raftstore", deadlineMs: 500 });
    assert.equal(storageClosed, false);
  });

  it("exits at once with 128 + signal number on a second signal", async () => {
    const { fakeProcess, clock, shutdown } = setup();
    let release: () => void = () => {};
    shutdown.register("slow", () => new Promise<void>((resolve) => (release = resolve)));
    shutdown.installSignalHandlers();
    fakeProcess.emit("SIGINT");
    clock.currentMs += REPEATED_SIGNAL_WINDOW_MS;
    fakeProcess.emit("SIGINT");
    assert.deepEqual(fakeProcess.exitCodes, [130]);
    release();
    await shutdown.shutdown("again");
    assert.deepEqual(fakeProcess.exitCodes, [130, 0]);
  });

  it("ignores a signal repeated within the window (terminal plus wrapper forwarding one Ctrl-C)", async () => {
    const { fakeProcess, clock, shutdown } = setup();
    let release: () => void = () => {};
    shutdown.register("slow", () => new Promise<void>((resolve) => (release = resolve)));
    shutdown.installSignalHandlers();
    fakeProcess.emit("SIGINT");
    clock.currentMs += REPEATED_SIGNAL_WINDOW_MS - 1;
    fakeProcess.emit("SIGINT");
    assert.deepEqual(fakeProcess.exitCodes, []);
    release();
    await shutdown.shutdown("again");
    assert.deepEqual(fakeProcess.exitCodes, [0]);
  });

  it("refuses registrations once shutdown has started", async () => {
    const { shutdown } = setup();
    const done = shutdown.shutdown("test");
    assert.throws(() => shutdown.register("late", () => {}), /shutdown is in progress/);
    await done;
  });

  it("removes its signal handlers when asked", () => {
    const { fakeProcess, shutdown } = setup();
    const uninstall = shutdown.installSignalHandlers();
    assert.equal(fakeProcess.listeners.get("SIGTERM")?.size, 1);
    uninstall();
    assert.equal(fakeProcess.listeners.get("SIGTERM")?.size, 0);
    assert.equal(fakeProcess.listeners.get("SIGINT")?.size, 0);
  });

  it("shuts a real child process down on SIGTERM in order with exit code 0", async () => {
    const script = fileURLToPath(new URL("./testing/shutdown-child-process.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      let stdout = "";
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk.toString();
          if (stdout.includes("ready\n")) resolve();
        });
        child.on("exit", () => reject(new Error(`child exited before ready: ${stderr}`)));
      });
      child.kill("SIGTERM");
      const exitCode = await exited;
      assert.equal(exitCode, 0, `stderr: ${stderr}`);
      const closing = stdout.split("\n").filter((line) => line.startsWith("closing "));
      assert.deepEqual(closing, ["closing grpc-server", "closing raftstore", "closing storage"]);
      assert.ok(stdout.includes('"message":"shutdown complete"'));
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });
});
