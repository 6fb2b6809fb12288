/**
 * `pd tso`: one timestamp from the pd leader over gRPC, through the same pd client the services use. The
 * gRPC addresses come from the members the HTTP API lists, so `--pd` stays the only address to give.
 */
import { PdClient, PdError, splitTimestamp } from "#client";
import { CommandError } from "../../cli-errors.ts";
import { asArray, asRecord } from "../../json-value.ts";
import { formatFields } from "../../table.ts";
import { exactly } from "./arguments.ts";
import { API, type CommandResult, type PdCommandContext } from "./pd-context.ts";

const TSO_TIMEOUT_MS = 5000;

export async function tsoCommand(context: PdCommandContext): Promise<CommandResult> {
  exactly(context.args, [], "pd tso");
  const members = asArray(asRecord(await context.http.get(`${API}/members`)).members);
  const endpoints = members.flatMap((member) =>
    asArray(asRecord(member).client_urls).filter((url): url is string => typeof url === "string"),
  );
  if (endpoints.length === 0)
    throw new CommandError("pd lists no member with a client URL to ask for a timestamp");
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
