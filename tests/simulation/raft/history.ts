/**
 * What happened during one simulated run: counters for the per-seed summary, and a bounded trace of the
 * latest events, dumped when an invariant fails so the failure can be understood without re-running.
 * Trace entries keep a reference to their details and are formatted only when dumped, so tracing every
 * event costs an allocation, not string building.
 */

export interface RunCounters {
  proposalsSubmitted: number;
  proposalsDropped: number;
  proposalsApplied: number;
  confChangesProposed: number;
  confChangesApplied: number;
  leaderTransfers: number;
  readsRequested: number;
  readsAnswered: number;
  compactions: number;
  snapshotsSent: number;
  snapshotsInstalled: number;
  crashes: number;
  restarts: number;
  faultsInjected: number;
  nodesAdded: number;
  nodesRemoved: number;
}

export function emptyCounters(): RunCounters {
  return {
    proposalsSubmitted: 0,
    proposalsDropped: 0,
    proposalsApplied: 0,
    confChangesProposed: 0,
    confChangesApplied: 0,
    leaderTransfers: 0,
    readsRequested: 0,
    readsAnswered: 0,
    compactions: 0,
    snapshotsSent: 0,
    snapshotsInstalled: 0,
    crashes: 0,
    restarts: 0,
    faultsInjected: 0,
    nodesAdded: 0,
    nodesRemoved: 0,
  };
}

interface TraceEntry {
  atMs: number;
  step: number;
  node: number;
  event: string;
  detail: unknown;
}

export type DetailFormatter = (detail: unknown) => string;

/** A ring buffer of the latest `capacity` events. */
export class Trace {
  private readonly entries: TraceEntry[] = [];
  private next = 0;
  private currentStep = 0;

  constructor(
    private readonly capacity: number,
    private readonly clock: () => number,
    private readonly formatDetail: DetailFormatter,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) throw new RangeError(`trace capacity ${capacity}`);
  }

  set step(step: number) {
    this.currentStep = step;
  }

  /** `node` 0 means the event belongs to the cluster (a fault, a workload decision). */
  record(node: number, event: string, detail?: unknown): void {
    if (this.capacity === 0) return;
    const atMs = this.clock();
    if (this.entries.length < this.capacity) {
      this.entries.push({ atMs, step: this.currentStep, node, event, detail });
      return;
    }
    const slot = this.entries[this.next]!;
    slot.atMs = atMs;
    slot.step = this.currentStep;
    slot.node = node;
    slot.event = event;
    slot.detail = detail;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Oldest first, one line per event. */
  lines(): string[] {
    const ordered = [...this.entries.slice(this.next), ...this.entries.slice(0, this.next)];
    return ordered.map((entry) => {
      const who = entry.node === 0 ? "cluster" : `node ${entry.node}`;
      const detail = entry.detail === undefined ? "" : ` ${this.formatDetail(entry.detail)}`;
      return `${String(entry.atMs).padStart(7)}ms step ${entry.step} ${who}: ${entry.event}${detail}`;
    });
  }
}
