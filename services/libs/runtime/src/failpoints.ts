/**
 * Named failpoints: places in the code where a test (or an operator reproducing a bug) makes a process
 * fail, pause or stop dead at a precise step — between the phases of a two-phase commit, say. Off, a
 * failpoint costs one size check of an empty map.
 *
 * A registry can be armed through its API (tests give a component its own registry) or, for the
 * process-wide one, from the environment at start-up: TESSERA_FAILPOINTS="name=error(message);other=sleep(100);third=hang".
 */
export type FailpointAction =
  /** The step throws FailpointError. */
  | { readonly kind: "error"; readonly message: string }
  /** The step waits, then goes on. */
  | { readonly kind: "sleep"; readonly ms: number }
  /** The step never goes on (the process "dies" there) until the caller's signal aborts. */
  | { readonly kind: "hang" };

export class FailpointError extends Error {
  override readonly name = "FailpointError";
  constructor(
    readonly failpoint: string,
    message: string,
  ) {
    super(`failpoint ${failpoint}: ${message}`);
  }
}

export class FailpointSpecError extends Error {
  override readonly name = "FailpointSpecError";
}

export class Failpoints {
  private readonly armed = new Map<string, FailpointAction>();
  /** How many times each armed failpoint was reached. */
  private readonly hits = new Map<string, number>();

  arm(name: string, action: FailpointAction): void {
    this.armed.set(name, action);
  }

  disarm(name: string): void {
    this.armed.delete(name);
  }

  reset(): void {
    this.armed.clear();
    this.hits.clear();
  }

  hitCount(name: string): number {
    return this.hits.get(name) ?? 0;
  }

  /**
   * Runs the failpoint `name`: nothing when it is not armed (a resolved promise, no timers). `signal` ends a
   * hang or a sleep (with the signal's reason).
   */
  async reach(name: string, signal?: AbortSignal): Promise<void> {
    if (this.armed.size === 0) return;
    const action = this.armed.get(name);
    if (action === undefined) return;
    this.hits.set(name, (this.hits.get(name) ?? 0) + 1);
    switch (action.kind) {
      case "error":
        throw new FailpointError(name, action.message);
      case "sleep":
        await wait(action.ms, signal);
        return;
      case "hang":
        await wait(undefined, signal);
        return;
      default:
        return action satisfies never;
    }
  }

  /** Arms every failpoint of a spec: `name=error(message)`, `name=sleep(ms)`, `name=hang`, separated by `;`. */
  armFromSpec(spec: string): void {
    for (const part of spec
      .split(";")
      .map((item) => item.trim())
      .filter((item) => item !== "")) {
      const match = /^([\w./-]+)=(error|sleep|hang)(?:\((.*)\))?$/.exec(part);
      if (match === null)
        throw new FailpointSpecError(
          `cannot parse failpoint "${part}" (want name=error(msg), name=sleep(ms) or name=hang)`,
        );
      const [, name, kind, argument] = match;
      if (kind === "error") this.arm(name!, { kind: "error", message: argument ?? "injected" });
      else if (kind === "hang") this.arm(name!, { kind: "hang" });
      else {
        const ms = Number(argument);
        if (!Number.isFinite(ms) || ms < 0)
          throw new FailpointSpecError(`failpoint ${name}: sleep needs a duration in ms, got "${argument}"`);
        this.arm(name!, { kind: "sleep", ms });
      }
    }
  }
}

/** The process-wide registry, armed from TESSERA_FAILPOINTS when the process starts. */
export const processFailpoints = new Failpoints();
const fromEnvironment = process.env.TESSERA_FAILPOINTS;
if (fromEnvironment !== undefined && fromEnvironment !== "") processFailpoints.armFromSpec(fromEnvironment);

function wait(ms: number | undefined, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = ms === undefined ? undefined : setTimeout(done, ms);
    const onAbort = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      reject(signal?.reason);
    };
    function done(): void {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
