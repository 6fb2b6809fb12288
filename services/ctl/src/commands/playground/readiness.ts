/**
 * Waiting for the playground to come up: each member's health URL answers 200, then pd lists every store
 * as up and the cluster's first region has a leader and all its voters (pd adds them within seconds of
 * the stores joining; a region with one replica would lose data with one store). A member that exits while we wait fails the
 * start at once with the end of its log, rather than after the whole timeout.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { CommandError } from "../../cli-errors.ts";
import { asArray, asRecord } from "../../json-value.ts";
import { describeExit, type ManagedChild } from "./managed-child.ts";
import { sleepUnlessAborted } from "./sleep-unless-aborted.ts";

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
  /** Voters the first region must have. */
  readonly replicas: number;
}

/** Every expected store up in pd, and the first region has a leader and its voters: the cluster serves. */
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
    `pd at ${expectation.pdHttpUrl} did not report ${expectation.storeAddresses.length} stores up and a first region with a leader and ${expectation.replicas} voters`,
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
  if (regions.length === 0) return false;
  const first = asRecord(regions[0]);
  const voters = asArray(first.peers).filter((peer) => asRecord(peer).role === "voter");
  return first.leader !== undefined && voters.length >= expectation.replicas;
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
    // An interrupted sleep ends early; the loop's first line throws the interruption's reason.
    await sleepUnlessAborted(POLL_INTERVAL_MS, interrupt);
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
