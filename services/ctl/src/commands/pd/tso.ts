/**
 * `tso`: one timestamp from the pd leader over gRPC, through the same pd client the services use. The
 * gRPC addresses come from the members the HTTP API lists, so `--pd` stays the only address to give.
 */
import { PdClient, PdError, splitTimestamp } from "#client";
import { CommandError } from "../../cli-errors.ts";
import { formatFields } from "../../table.ts";
import type { CommandResult } from "../command-result.ts";
import { exactly } from "./arguments.ts";
import type { PdCommandContext } from "./pd-context.ts";
import { pdGrpcEndpoints } from "./pd-grpc-endpoints.ts";

const TSO_TIMEOUT_MS = 5000;

export async function tsoCommand(context: PdCommandContext): Promise<CommandResult> {
  exactly(context.args, [], "tso");
  const endpoints = await pdGrpcEndpoints(context.http, "ask for a timestamp");
  const timestamp = await fetchTimestamp(endpoints);
  const { physicalMs, logical } = splitTimestamp(timestamp);
  const json = {
    timestamp: timestamp.toString(),
    physical_ms: physicalMs.toString(),
    logical: logical.toString(),
  };
  const text = formatFields([
    ["timestamp", timestamp.toString()],
    ["physical", `${physicalMs} (${new Date(Number(physicalMs)).toISOString()})`],
    ["logical", logical.toString()],
  ]);
  return { json, text };
}

async function fetchTimestamp(endpoints: readonly string[]): Promise<bigint> {
  let client: PdClient | undefined;
  try {
    client = await PdClient.connect({
      endpoints,
      connectTimeoutMs: TSO_TIMEOUT_MS,
      tsoTimeoutMs: TSO_TIMEOUT_MS,
    });
    return await client.getTimestamp();
  } catch (error) {
    if (error instanceof PdError) throw new CommandError(error.message, { cause: error });
    throw error;
  } finally {
    await client?.close();
  }
}
