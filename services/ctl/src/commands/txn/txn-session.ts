/**
 * What one `txn` command talks through: a pd client (connected to the members pd's HTTP API lists) and a
 * RegionLeaderRpc to the stores, both closed when the command ends; every pd or store failure becomes a
 * one-line CommandError (exit 1).
 */
import { PdClient, PdError } from "#client";
import { CommandError } from "../../cli-errors.ts";
import type { PdHttpClient } from "../../http.ts";
import { pdGrpcEndpoints } from "../pd/pd-grpc-endpoints.ts";
import { RegionLeaderRpc } from "./region-leader-rpc.ts";
import { TxnViewError } from "./txn-errors.ts";

/** Deadline of connecting to pd, of each pd call and of each store call. */
const REQUEST_TIMEOUT_MS = 5_000;

export interface TxnSession {
  readonly pd: PdClient;
  readonly rpc: RegionLeaderRpc;
}

export async function withTxnSession<Result>(
  http: PdHttpClient,
  operation: string,
  body: (session: TxnSession) => Promise<Result>,
): Promise<Result> {
  const endpoints = await pdGrpcEndpoints(http, "find the stores through");
  let pd: PdClient | undefined;
  let rpc: RegionLeaderRpc | undefined;
  try {
    pd = await PdClient.connect({
      endpoints,
      connectTimeoutMs: REQUEST_TIMEOUT_MS,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    });
    rpc = new RegionLeaderRpc({ pd, requestTimeoutMs: REQUEST_TIMEOUT_MS });
    return await body({ pd, rpc });
  } catch (error) {
    if (error instanceof TxnViewError || error instanceof PdError) {
      throw new CommandError(`${operation} failed: ${error.message.split("\n")[0]}`, { cause: error });
    }
    throw error;
  } finally {
    rpc?.close();
    await pd?.close();
  }
}
