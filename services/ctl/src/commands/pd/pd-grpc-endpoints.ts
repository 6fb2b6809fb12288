/**
 * pd's gRPC addresses, read from the members its HTTP API lists, so commands that speak gRPC (tso, kv)
 * still take `--pd URL` of the HTTP API as their only address.
 */
import { CommandError } from "../../cli-errors.ts";
import type { PdHttpClient } from "../../http.ts";
import { asArray, asRecord } from "../../json-value.ts";
import { API } from "./pd-context.ts";

export async function pdGrpcEndpoints(http: PdHttpClient, purpose: string): Promise<string[]> {
  const members = asArray(asRecord(await http.get(`${API}/members`)).members);
  const endpoints = members.flatMap((member) =>
    asArray(asRecord(member).client_urls).filter((url): url is string => typeof url === "string"),
  );
  if (endpoints.length === 0) throw new CommandError(`pd lists no member with a client URL to ${purpose}`);
  return endpoints;
}
