/**
 * `gc status` and `gc run`: the cluster's MVCC garbage collection as an operator sees it — the safe point
 * pd holds and which GC worker holds the lease — and one GC round on demand (`--life-time` sets how much
 * history to keep; tests use a short one).
 */

import { GC_LEADER_KEY, GcBlockedError, GcWorker, PdError, RawKvClient, TxnClient, TxnError } from "#client";
import { physicalMsOf } from "#codec";
import { parseDurationMs, systemTimers } from "#runtime";
import { CommandError, UsageError } from "../../cli-errors.ts";
import type { CliIo } from "../../cli-io.ts";
import type { PdHttpClient } from "../../http.ts";
import { COMMON_OPTIONS, parseCommandLine, pdHttpClient, printResult } from "../command-line.ts";
import type { CommandResult } from "../command-result.ts";
import { pdGrpcEndpoints } from "../pd/pd-grpc-endpoints.ts";
import { CTL_USAGE } from "../usage.ts";

const OPTIONS = { ...COMMON_OPTIONS, "life-time": { type: "string" } } as const;
/** TiDB's tidb_gc_life_time. */
const DEFAULT_LIFE_TIME_MS = 10 * 60_000;
const REQUEST_TIMEOUT_MS = 5_000;

export async function runGcCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (values.help || positionals[0] === "help") {
    io.stdout(CTL_USAGE);
    return 0;
  }
  const [action, ...extra] = positionals;
  if ((action !== "status" && action !== "run") || extra.length > 0) {
    throw new UsageError("gc takes one of: status, run [--life-time DURATION]");
  }
  const lifeTimeText = values["life-time"];
  const lifeTimeMs = lifeTimeText === undefined ? DEFAULT_LIFE_TIME_MS : parseDurationMs(lifeTimeText);
  if (lifeTimeMs === undefined || lifeTimeMs < 0)
    throw new UsageError(`--life-time wants a duration like 10m or 0s, got "${lifeTimeText}"`);
  if (action === "status" && lifeTimeText !== undefined)
    throw new UsageError("--life-time only applies to gc run");
  const http = pdHttpClient(values.pd, io);
  const result = await withClients(http, `gc ${action}`, (clients) =>
    action === "status" ? gcStatus(clients) : gcRun(clients, lifeTimeMs),
  );
  return printResult(result, values.json, io);
}

interface Clients {
  readonly txn: TxnClient;
  readonly raw: RawKvClient;
}

async function gcStatus({ txn, raw }: Clients): Promise<CommandResult> {
  const safePoint = await txn.gcSafePoint();
  const lease = await raw.get(GC_LEADER_KEY);
  const [owner, expiresAtMs] =
    lease === undefined ? [undefined, undefined] : new TextDecoder().decode(lease).split("|");
  const lines = [
    `safe point  ${safePoint}${safePoint === 0n ? " (never collected)" : ` (${new Date(Number(physicalMsOf(safePoint))).toISOString()})`}`,
    `gc leader   ${owner === undefined ? "(none)" : `${owner}, lease until ${new Date(Number(expiresAtMs)).toISOString()}`}`,
  ];
  return {
    json: { safe_point: safePoint.toString(), leader: owner ?? null, lease_expires_ms: expiresAtMs ?? null },
    text: `${lines.join("\n")}\n`,
  };
}

async function gcRun({ txn, raw }: Clients, lifeTimeMs: number): Promise<CommandResult> {
  const worker = new GcWorker({ txn, raw, owner: `ctl-${process.pid}`, lifeTimeMs, timers: systemTimers });
  try {
    const report = await worker.runOnce();
    if (report === undefined) {
      return { json: { ran: false }, text: "another GC worker holds the lease; nothing done\n", exitCode: 1 };
    }
    return {
      json: {
        ran: true,
        safe_point: report.safePoint.toString(),
        locks_resolved: report.locksResolved,
        regions_collected: report.regionsCollected,
      },
      text: `safe point ${report.safePoint}: ${report.locksResolved} locks resolved, ${report.regionsCollected} regions collected\n`,
    };
  } finally {
    await worker.close();
  }
}

async function withClients(
  http: PdHttpClient,
  operation: string,
  body: (clients: Clients) => Promise<CommandResult>,
): Promise<CommandResult> {
  const endpoints = await pdGrpcEndpoints(http, "reach the cluster through");
  let txn: TxnClient | undefined;
  let raw: RawKvClient | undefined;
  try {
    const options = { pdEndpoints: endpoints, requestTimeoutMs: REQUEST_TIMEOUT_MS };
    txn = await TxnClient.connect(options);
    raw = await RawKvClient.connect(options);
    return await body({ txn, raw });
  } catch (error) {
    if (error instanceof GcBlockedError || error instanceof TxnError || error instanceof PdError) {
      throw new CommandError(`${operation} failed: ${error.message.split("\n")[0]}`, { cause: error });
    }
    throw error;
  } finally {
    await raw?.close();
    await txn?.close();
  }
}
