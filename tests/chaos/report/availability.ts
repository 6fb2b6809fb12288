/**
 * Availability around faults, from the recorded history: successes and failures per second of the run, and
 * for each fault the unavailability window, from the fault's start to the first success of an operation
 * invoked after it. The cluster has one region by default, so every key is affected by every fault.
 */
import type { Operation } from "../history/operation.ts";
import type { FaultRecord } from "../nemesis/nemesis.ts";

export interface SecondCounts {
  readonly second: number;
  readonly ok: number;
  readonly failed: number;
}

export interface FaultAvailability {
  readonly fault: FaultRecord;
  /** Undefined when no operation invoked after the fault succeeded before the run ended. */
  readonly unavailableMs: number | undefined;
}

const SECONDS_BEFORE_FAULT = 1;
const SECONDS_AFTER_FAULT = 3;

/** Counts per second of completion time; unknown outcomes count at their invoke time as failures. */
export function countPerSecond(history: readonly Operation[]): Map<number, { ok: number; failed: number }> {
  const counts = new Map<number, { ok: number; failed: number }>();
  for (const operation of history) {
    const second = Math.floor((operation.completeMs ?? operation.invokeMs) / 1000);
    const bucket = counts.get(second) ?? { ok: 0, failed: 0 };
    if (operation.outcome === "ok") bucket.ok++;
    else bucket.failed++;
    counts.set(second, bucket);
  }
  return counts;
}

export function unavailabilityAfter(fault: FaultRecord, history: readonly Operation[]): FaultAvailability {
  let firstSuccessMs: number | undefined;
  for (const operation of history) {
    if (
      operation.outcome !== "ok" ||
      operation.invokeMs < fault.startMs ||
      operation.completeMs === undefined
    )
      continue;
    if (firstSuccessMs === undefined || operation.completeMs < firstSuccessMs)
      firstSuccessMs = operation.completeMs;
  }
  return { fault, unavailableMs: firstSuccessMs === undefined ? undefined : firstSuccessMs - fault.startMs };
}

/** Lines for the report: each fault, its window, and the per-second counts around it. */
export function describeAvailability(
  faults: readonly FaultRecord[],
  history: readonly Operation[],
): string[] {
  const perSecond = countPerSecond(history);
  const lines: string[] = [];
  for (const fault of faults) {
    const { unavailableMs } = unavailabilityAfter(fault, history);
    const endMs = fault.endMs ?? fault.startMs;
    lines.push(
      `t=${formatSeconds(fault.startMs)}..${formatSeconds(endMs)} ${fault.description}: unavailable ${
        unavailableMs === undefined ? "until the end" : `${unavailableMs} ms`
      }`,
    );
    const first = Math.floor(fault.startMs / 1000) - SECONDS_BEFORE_FAULT;
    const last = Math.floor(endMs / 1000) + SECONDS_AFTER_FAULT;
    const cells: string[] = [];
    for (let second = Math.max(0, first); second <= last; second++) {
      const bucket = perSecond.get(second) ?? { ok: 0, failed: 0 };
      cells.push(`${second}s:${bucket.ok}/${bucket.failed}`);
    }
    lines.push(`  ok/failed per second: ${cells.join(" ")}`);
  }
  return lines;
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
