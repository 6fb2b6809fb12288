/**
 * `txn locks|mvcc`: what the stores hold for Percolator transactions, read straight from each region's
 * leader like tikv-ctl's scan-lock and mvcc, for an operator chasing a stuck transaction.
 */
import type { CliIo } from "../../cli-io.ts";
import { COMMON_OPTIONS, parseCommandLine, pdHttpClient, printResult } from "../command-line.ts";
import type { CommandResult } from "../command-result.ts";
import { CTL_USAGE } from "../usage.ts";
import { locksResult } from "./locks-view.ts";
import { fetchMvcc, mvccResult } from "./mvcc-view.ts";
import { scanLocks } from "./scan-locks.ts";
import { TxnPrinter } from "./txn-format.ts";
import { parseTxnFormats, parseTxnRequest, type TxnRequest } from "./txn-request.ts";
import { type TxnSession, withTxnSession } from "./txn-session.ts";

const OPTIONS = {
  ...COMMON_OPTIONS,
  region: { type: "string" },
  "max-ts": { type: "string" },
  limit: { type: "string" },
  "key-format": { type: "string" },
  "value-format": { type: "string" },
} as const;

/** `argv` follows `txn`; returns the exit code. */
export async function runTxnCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (values.help || positionals[0] === "help") {
    io.stdout(CTL_USAGE);
    return 0;
  }
  const flags = {
    ...values,
    maxTs: values["max-ts"],
    keyFormat: values["key-format"],
    valueFormat: values["value-format"],
  };
  const formats = parseTxnFormats(flags);
  const request = parseTxnRequest(positionals, flags, formats);
  const printer = new TxnPrinter(formats);
  const http = pdHttpClient(values.pd, io);
  const result = await withTxnSession(http, `txn ${request.kind}`, (session) =>
    runTxnRequest(session, request, printer),
  );
  return printResult(result, values.json, io);
}

async function runTxnRequest(
  session: TxnSession,
  request: TxnRequest,
  printer: TxnPrinter,
): Promise<CommandResult> {
  switch (request.kind) {
    case "locks":
      return locksResult(await scanLocks(session.pd, session.rpc, request), request.limit, printer);
    case "mvcc":
      return mvccResult(request.key, await fetchMvcc(session.pd, session.rpc, request.key), printer);
  }
}
