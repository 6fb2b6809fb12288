import type { Logger } from "#observability";
import type { LeadershipEvent, LeadershipListener } from "./election.ts";

/** Listener registry that keeps one throwing listener from starving the others. */
export class LeadershipListeners {
  private readonly listeners = new Set<LeadershipListener>();

  constructor(private readonly logger: Logger) {}

  add(listener: LeadershipListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(event: LeadershipEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error({ err: error }, "leadership listener failed");
      }
    }
  }
}
