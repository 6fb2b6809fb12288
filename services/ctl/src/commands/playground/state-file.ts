/**
 * `<data-dir>/playground.json`: which processes a playground runs and on which ports. `playground stop`
 * reads the pids from it, the next start reuses its ports, and scripts may read the endpoints from it.
 * Written atomically (temporary file, then rename) so a reader never sees half a file.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CommandError } from "../../cli-errors.ts";
import { asArray, asRecord, type JsonRecord } from "../../json-value.ts";
import type { MemberRole } from "./cluster-plan.ts";

export const STATE_FILE_NAME = "playground.json";
const STATE_VERSION = 1;
const ROLES: readonly MemberRole[] = ["etcd", "pd", "store"];

export interface MemberState {
  readonly name: string;
  readonly role: MemberRole;
  /** null once the member is known to have stopped. */
  readonly pid: number | null;
  readonly ports: readonly number[];
  /** etcd: client URL; pd: gRPC host:port; store: gRPC host:port. */
  readonly endpoint: string;
  /** etcd: client URL; pd: HTTP API URL; store: status URL. */
  readonly httpUrl: string;
  readonly dataDir: string;
  readonly logPath: string;
  readonly stopTimeoutMs: number;
}

export interface PlaygroundState {
  readonly version: typeof STATE_VERSION;
  readonly pdCount: number;
  readonly detached: boolean;
  /** The foreground launcher supervising the members; null when detached or stopped. */
  readonly launcherPid: number | null;
  /** True once every member is healthy and the cluster is bootstrapped. */
  readonly ready: boolean;
  readonly updatedAt: string;
  readonly members: readonly MemberState[];
}

export class StateFileError extends CommandError {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}; remove the file if no playground runs from this directory`);
    this.name = "StateFileError";
  }
}

export function stateFilePath(dataDir: string): string {
  return join(dataDir, STATE_FILE_NAME);
}

/** undefined when no playground ever started in `dataDir`. */
export function readState(dataDir: string): PlaygroundState | undefined {
  const path = stateFilePath(dataDir);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new StateFileError(path, `cannot read: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new StateFileError(path, "is not JSON");
  }
  return parseState(path, json);
}

export function writeState(dataDir: string, state: PlaygroundState): void {
  mkdirSync(dataDir, { recursive: true });
  const path = stateFilePath(dataDir);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(temporary, path);
}

export function parseState(path: string, json: unknown): PlaygroundState {
  const record = asRecord(json);
  if (record.version !== STATE_VERSION)
    throw new StateFileError(path, `has version ${String(record.version)}, expected ${STATE_VERSION}`);
  const fail = (field: string): never => {
    throw new StateFileError(path, `field "${field}" is missing or malformed`);
  };
  return {
    version: STATE_VERSION,
    pdCount: positiveInteger(record.pdCount) ?? fail("pdCount"),
    detached: typeof record.detached === "boolean" ? record.detached : fail("detached"),
    launcherPid: optionalPid(record.launcherPid, () => fail("launcherPid")),
    ready: typeof record.ready === "boolean" ? record.ready : fail("ready"),
    updatedAt: typeof record.updatedAt === "string" ? record.updatedAt : fail("updatedAt"),
    members: Array.isArray(record.members)
      ? record.members.map((member, index) =>
          parseMember(asRecord(member), (field) => fail(`members[${index}].${field}`)),
        )
      : fail("members"),
  };
}

function parseMember(record: JsonRecord, fail: (field: string) => never): MemberState {
  const text = (field: string): string => {
    const value = record[field];
    return typeof value === "string" && value !== "" ? value : fail(field);
  };
  const ports = asArray(record.ports).map((port) => positiveInteger(port) ?? fail("ports"));
  return {
    name: text("name"),
    role: ROLES.find((role) => role === record.role) ?? fail("role"),
    pid: optionalPid(record.pid, () => fail("pid")),
    ports: ports.length === 2 ? ports : fail("ports"),
    endpoint: text("endpoint"),
    httpUrl: text("httpUrl"),
    dataDir: text("dataDir"),
    logPath: text("logPath"),
    stopTimeoutMs: positiveInteger(record.stopTimeoutMs) ?? fail("stopTimeoutMs"),
  };
}

function positiveInteger(value: unknown): number | undefined {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

function optionalPid(value: unknown, fail: () => never): number | null {
  return value === null ? null : (positiveInteger(value) ?? fail());
}
