/**
 * Availability around faults, from the recorded history: successes and failures per second of the run, and
 * for each fault the unavailability window of each region, from the fault's start to the first success of
 * an operation on that region invoked after it. A fault that costs one region its leader leaves the others
 * serving, so the worst region's window is the fault's figure.
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
  /**
   * The worst region's window; undefined when, in some region, no operation invoked after the fault
   * succeeded before the run ended.
   */
  readonly unavailableMs: number | undefined;
  /** The same counting writes only: a leader cut off from its quorum still serves reads on its lease. */
  readonly writesUnavailableMs: number | undefined;
  /** Each region's window, in region order (undefined: no success after the fault). */
  readonly regions: ReadonlyArray<number | undefined>;
}

/** The region an operation touches (0-based), or undefined for one that spans them (a full read). */
export type RegionOf = (operation: Operation) => number | undefined;

const oneRegion: RegionOf = () => 0;

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

export function unavailabilityAfter(
  fault: FaultRecord,
  history: readonly Operation[],
  regionOf: RegionOf = oneRegion,
): FaultAvailability {
  const regions = regionWindows(fault, history, regionOf, () => true);
  const writeRegions = regionWindows(fault, history, regionOf, isWrite);
  return { fault, unavailableMs: worst(regions), writesUnavailableMs: worst(writeRegions), regions };
}

/** Writes need the region's quorum; reads may still succeed on a cut-off leader's lease. */
function isWrite(operation: Operation): boolean {
  return operation.op === "write" || operation.op === "cas" || operation.op === "add";
}

function regionWindows(
  fault: FaultRecord,
  history: readonly Operation[],
  regionOf: RegionOf,
  counts: (operation: Operation) => boolean,
): Array<number | undefined> {
  const firstSuccessMs: Array<number | undefined> = [];
  for (const operation of history) {
    const region = regionOf(operation);
    if (region === undefined || !counts(operation)) continue;
    while (firstSuccessMs.length <= region) firstSuccessMs.push(undefined);
    if (
      operation.outcome !== "ok" ||
      operation.invokeMs < fault.startMs ||
      operation.completeMs === undefined
    )
      continue;
    const first = firstSuccessMs[region];
    if (first === undefined || operation.completeMs < first) firstSuccessMs[region] = operation.completeMs;
  }
  return firstSuccessMs.map((ms) => (ms === undefined ? undefined : ms - fault.startMs));
}

function worst(windows: ReadonlyArray<number | undefined>): number | undefined {
  return windows.some((ms) => ms === undefined) ? undefined : Math.max(0, ...(windows as number[]));
}

/** Lines for the report: each fault, its window, and the per-second counts around it. */
export function describeAvailability(
  faults: readonly FaultRecord[],
  history: readonly Operation[],
  regionOf: RegionOf = oneRegion,
): string[] {
  const perSecond = countPerSecond(history);
  const lines: string[] = [];
  const window = (ms: number | undefined) => (ms === undefined ? "until the end" : `${ms} ms`);
  for (const fault of faults) {
    const { unavailableMs, writesUnavailableMs, regions } = unavailabilityAfter(fault, history, regionOf);
    const endMs = fault.endMs ?? fault.startMs;
    const perRegion = regions.length > 1 ? ` (by region: ${regions.map(window).join(", ")})` : "";
    const writes = writesUnavailableMs === unavailableMs ? "" : `; writes ${window(writesUnavailableMs)}`;
    lines.push(
      `t=${formatSeconds(fault.startMs)}..${formatSeconds(endMs)} ${fault.description}: unavailable ${window(unavailableMs)}${perRegion}${writes}`,
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
