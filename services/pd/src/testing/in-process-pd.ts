/**
 * Starts pd members in the test process on free 127.0.0.1 ports, sharing one in-memory backend group so a
 * test can move leadership by hand. Every member is closed by `closeAll`, which tests call in `after`.
 */
import { createLogger } from "#observability";
import { type PdOptions, pdOptionsWithDefaults, type RunningPd, startPd } from "../server/pd-server.ts";
import type { PdBackend } from "../storage/index.ts";
import { MemoryPdGroup } from "./memory-backend.ts";

export class InProcessPdCluster {
  readonly group = new MemoryPdGroup();
  readonly members: RunningPd[] = [];

  /** The first member started becomes the leader; later ones start as followers. Scheduling runs only when a test sets scheduleIntervalMs. */
  async start(overrides: Partial<PdOptions> = {}): Promise<RunningPd> {
    const first = this.members.length === 0;
    const pd = await startPd(
      pdOptionsWithDefaults({
        name: `pd-${this.members.length + 1}`,
        listenHost: "127.0.0.1",
        clientPort: 0,
        httpPort: 0,
        logger: createLogger({ component: "pd", level: "silent" }),
        // Background scheduling would race with tests' own operators and heartbeats; tests opt in.
        scheduleIntervalMs: 3_600_000,
        openBackend: async (self): Promise<PdBackend> => {
          const backend = this.group.join(self);
          if (first) this.group.elect(self.memberId);
          return backend;
        },
        ...overrides,
      }),
    );
    this.members.push(pd);
    return pd;
  }

  /** Resolves once `pd` serves as leader; bounded so a broken start-up fails the test instead of hanging. */
  async waitServing(pd: RunningPd, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pd.isServingLeader()) {
      if (Date.now() > deadline)
        throw new Error(`${pd.member.name} did not become the serving leader in ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.members.splice(0).map((pd) => pd.close()));
  }
}
