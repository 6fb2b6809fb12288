/**
 * Graceful shutdown on SIGTERM/SIGINT, the way Kubernetes stops a pod: closers run one at a time in REVERSE
 * registration order (like `defer`), so a service that registers in start-up order — storage, then raft,
 * then the gRPC server — stops accepting requests before it stops raft, and stops raft before it closes the
 * storage underneath. An overall deadline bounds the whole sequence; a second signal exits at once.
 */
import { type Clock, systemClock, systemTimers, type Timers } from "./clock.ts";

export type Closer = () => Promise<void> | void;

/** The slice of a pino logger this needs, so runtime does not depend on observability. */
export interface ShutdownLogger {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** The slice of `process` this needs; injectable so unit tests neither exit nor receive real signals. */
export interface ProcessLike {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
}

export interface GracefulShutdownOptions {
  readonly logger: ShutdownLogger;
  /** Bound on the whole close sequence [30 s, like Kubernetes' default terminationGracePeriodSeconds]. */
  readonly deadlineMs?: number;
  readonly process?: ProcessLike;
  readonly timers?: Timers;
  readonly clock?: Clock;
}

export const DEFAULT_SHUTDOWN_DEADLINE_MS = 30_000;
const HANDLED_SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT"];
/**
 * A Ctrl-C in a terminal reaches every process of the foreground group, and wrappers such as npm and tsx
 * forward it to their child as well, so one keypress can arrive twice within milliseconds. Only a signal
 * after this window counts as the operator asking again.
 */
export const REPEATED_SIGNAL_WINDOW_MS = 1_000;
const SIGNAL_NUMBERS: Readonly<Partial<Record<NodeJS.Signals, number>>> = { SIGINT: 2, SIGTERM: 15 };

export const EXIT_CODE_CLEAN = 0;
/** A closer threw or the deadline passed: the process stopped, but something may not have been released. */
export const EXIT_CODE_UNCLEAN = 1;

interface Registration {
  readonly name: string;
  readonly close: Closer;
}

/** A closer registered after shutdown began: a start-up race, since it would never run. */
export class ShutdownInProgressError extends Error {
  override readonly name = "ShutdownInProgressError";

  constructor(readonly closerName: string) {
    super(`cannot register closer "${closerName}": shutdown is in progress`);
  }
}

export class GracefulShutdown {
  private readonly registrations: Registration[] = [];
  private readonly logger: ShutdownLogger;
  private readonly deadlineMs: number;
  private readonly process: ProcessLike;
  private readonly timers: Timers;
  private readonly clock: Clock;
  private running: Promise<void> | undefined;
  private firstSignalAtMs = 0;

  constructor(options: GracefulShutdownOptions) {
    this.logger = options.logger;
    this.deadlineMs = options.deadlineMs ?? DEFAULT_SHUTDOWN_DEADLINE_MS;
    this.process = options.process ?? process;
    this.timers = options.timers ?? systemTimers;
    this.clock = options.clock ?? systemClock;
  }

  get isShuttingDown(): boolean {
    return this.running !== undefined;
  }

  /** Closers run in reverse registration order. Registering during shutdown is a start-up race: refused. */
  register(name: string, close: Closer): void {
    if (this.running !== undefined) throw new ShutdownInProgressError(name);
    this.registrations.push({ name, close });
  }

  /**
   * The first SIGTERM/SIGINT starts `shutdown`; a second one (after REPEATED_SIGNAL_WINDOW_MS) exits at once
   * with 128 + signal number, for an operator who does not want to wait. Returns a function that removes
   * the handlers.
   */
  installSignalHandlers(): () => void {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (this.running === undefined) {
        this.firstSignalAtMs = this.clock.monotonicMs();
        void this.shutdown(`signal ${signal}`);
        return;
      }
      if (this.clock.monotonicMs() - this.firstSignalAtMs < REPEATED_SIGNAL_WINDOW_MS) {
        this.logger.info(
          { signal },
          "signal repeated by the terminal or a wrapper process; still shutting down",
        );
        return;
      }
      this.logger.error({ signal }, "second signal during shutdown; exiting now");
      this.process.exit(128 + (SIGNAL_NUMBERS[signal] ?? 0));
    };
    for (const signal of HANDLED_SIGNALS) this.process.on(signal, onSignal);
    return () => {
      for (const signal of HANDLED_SIGNALS) this.process.off(signal, onSignal);
    };
  }

  /** Runs the closers and then exits the process; calling it again returns the same promise. */
  shutdown(reason: string): Promise<void> {
    this.running ??= this.run(reason);
    return this.running;
  }

  private async run(reason: string): Promise<void> {
    this.logger.info(
      { reason, closers: this.registrations.length, deadlineMs: this.deadlineMs },
      "shutdown started",
    );
    const progress = { current: undefined as string | undefined, expired: false };
    let deadlineHandle: { cancel(): void } | undefined;
    const deadline = new Promise<"deadline">((resolve) => {
      deadlineHandle = this.timers.setTimeout(() => resolve("deadline"), this.deadlineMs);
    });
    const outcome = await Promise.race([this.closeAll(progress), deadline]);
    deadlineHandle?.cancel();
    if (outcome === "deadline") {
      progress.expired = true;
      this.logger.error(
        { closer: progress.current, deadlineMs: this.deadlineMs },
        "shutdown deadline passed",
      );
      this.process.exit(EXIT_CODE_UNCLEAN);
      return;
    }
    this.logger.info({ exitCode: outcome }, "shutdown complete");
    this.process.exit(outcome);
  }

  private async closeAll(progress: { current: string | undefined; expired: boolean }): Promise<number> {
    let exitCode = EXIT_CODE_CLEAN;
    for (const { name, close } of [...this.registrations].reverse()) {
      // After the deadline the process is exiting; starting more closers would only race with exit.
      if (progress.expired) break;
      progress.current = name;
      const startedMs = this.clock.monotonicMs();
      try {
        await close();
        this.logger.info({ closer: name, elapsedMs: this.clock.monotonicMs() - startedMs }, "closed");
      } catch (error) {
        exitCode = EXIT_CODE_UNCLEAN;
        this.logger.error({ closer: name, err: error }, "close failed; continuing with the next closer");
      }
    }
    progress.current = undefined;
    return exitCode;
  }
}
