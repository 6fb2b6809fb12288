/**
 * Waiting for the playground to come up: each member's health URL answers 200, then pd lists every store
 * as up and the cluster has its first region with a leader. A member that exits while we wait fails the
 * start at once with the end of its log, rather than after the whole timeout.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { CommandError } from "../../cli-errors.ts";
import { asArray, asRecord } from "../../json-value.ts";
import { describeExit, type ManagedChild } from "./managed-child.ts";

/** Fresh start of pd + 3 stores through tsx takes a few seconds; a loaded 2-core machine several times that. */
export const STARTUP_TIMEOUT_MS = 90_000;
const POLL_INTERVAL_MS = 200;
const REQUEST_TIMEOUT_MS = 1_000;
const LOG_TAIL_LINES = 15;
/** Enough for the last lines of JSON logs without reading a long-running member's whole log. */
const LOG_TAIL_BYTES = 16 * 1024;

export class MemberExitedError extends CommandError {
  constructor(child: ManagedChild) {
    const { member } = child;
    super(
      `${member.name} exited during start-up (${describeExit(child.status!)}); its log ${member.logPath} ends with:\n` +
        logTail(member.logPath),
    );
    this.name = "MemberExitedError";
  }
}

export class StartupTimeoutError extends CommandError {
  constructor(what: string, timeoutMs: number, logPaths: readonly string[]) {
    super(`${what} within ${timeoutMs / 1000} s; see ${logPaths.join(", ")}`);
    this.name = "StartupTimeoutError";
  }
}

export interface ReadinessDeadline {
  /** performance.now() value after which waiting fails. */
  readonly atMs: number;
  readonly timeoutMs: number;
}

export function deadlineIn(timeoutMs: number): ReadinessDeadline {
  return { atMs: performance.now() + timeoutMs, timeoutMs };
}

export async function waitUntilHealthy(
  child: ManagedChild,
  deadline: ReadinessDeadline,
  interrupt: AbortSignal,
): Promise<void> {
  await pollUntil(
    [child],
    { deadline, interrupt },
    async () => (await request(child.member.healthUrl))?.ok === true,
    `${child.member.name} did not answer ${child.member.healthUrl}`,
  );
}

export interface ClusterExpectation {
  readonly pdHttpUrl: string;
  /** gRPC addresses of the stores this playground runs; pd may also remember stores of earlier runs. */
  readonly storeAddresses: readonly string[];
}

/** Every expected store up in pd and the first region elected a leader: the cluster can serve requests. */
export async function waitUntilClusterReady(
  children: readonly ManagedChild[],
  expectation: ClusterExpectation,
  deadline: ReadinessDeadline,
  interrupt: AbortSignal,
): Promise<void> {
  await pollUntil(
    children,
    { deadline, interrupt },
    () => isClusterReady(expectation),
    `pd at ${expectation.pdHttpUrl} did not report ${expectation.storeAddresses.length} stores up and a region leader`,
  );
}

async function isClusterReady(expectation: ClusterExpectation): Promise<boolean> {
  const stores = asArray(asRecord(await getJson(`${expectation.pdHttpUrl}/pd/api/v1/stores`)).stores);
  const upAddresses = new Set(
    stores.map(asRecord).flatMap((store) => (store.health === "up" ? [store.address] : [])),
  );
  if (!expectation.storeAddresses.every((address) => upAddresses.has(address))) return false;
  const regions = asArray(
    asRecord(await getJson(`${expectation.pdHttpUrl}/pd/api/v1/regions?limit=1`)).regions,
  );
  return regions.length > 0 && asRecord(regions[0]).leader !== undefined;
}

async function pollUntil(
  children: readonly ManagedChild[],
  { deadline, interrupt }: { readonly deadline: ReadinessDeadline; readonly interrupt: AbortSignal },
  condition: () => Promise<boolean>,
  failure: string,
): Promise<void> {
  for (;;) {
    interrupt.throwIfAborted();
    const exited = children.find((child) => child.status !== undefined);
    if (exited !== undefined) throw new MemberExitedError(exited);
    if (await condition()) return;
    if (performance.now() >= deadline.atMs) {
      throw new StartupTimeoutError(
        failure,
        deadline.timeoutMs,
        children.map((child) => child.member.logPath),
      );
    }
    // An interrupted sleep rejects with a generic AbortError; the loop's first line throws the real reason.
    await sleep(POLL_INTERVAL_MS, undefined, { signal: interrupt }).catch(() => undefined);
  }
}

/** undefined when nothing answered in time: during start-up that only means "not yet". */
async function request(url: string): Promise<Response | undefined> {
  try {
    return await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch {
    return undefined;
  }
}

export async function getJson(url: string): Promise<unknown> {
  const response = await request(url);
  if (response?.ok !== true) return undefined;
  try {
    return await response.json();
  } catch {
    return undefined;
  }
}

export function logTail(path: string, lines = LOG_TAIL_LINES): string {
  let descriptor: number | undefined;
  try {
    descriptor = openSync(path, "r");
    const sizeBytes = fstatSync(descriptor).size;
    const buffer = Buffer.alloc(Math.min(sizeBytes, LOG_TAIL_BYTES));
    readSync(descriptor, buffer, 0, buffer.length, sizeBytes - buffer.length);
    return buffer.toString("utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(log file unreadable)";
  } finally {
    if (descriptor !== undefined) closeSync(descriptor);
  }
}
