/**
 * One raw KV client for one ctl command: connected to the pd members pd's HTTP API lists, closed when the
 * command ends, and every storage-client failure turned into a one-line CommandError (exit 1).
 */
import {
  BackoffBudgetExceededError,
  PdError,
  RawKvArgumentError,
  RawKvClient,
  RawKvError,
  RegionRequestError,
  RpcError,
} from "#client";
import { CommandError } from "../../cli-errors.ts";
import type { PdHttpClient } from "../../http.ts";
import { pdGrpcEndpoints } from "../pd/pd-grpc-endpoints.ts";

/** Deadline of connecting to pd and of each store request. */
const REQUEST_TIMEOUT_MS = 5_000;
/** A person is waiting: give up sooner than the library's 20 s, which suits long-running services. */
const BACKOFF_BUDGET_MS = 10_000;

export async function withRawKvClient<Result>(
  http: PdHttpClient,
  operation: string,
  body: (client: RawKvClient) => Promise<Result>,
): Promise<Result> {
  const endpoints = await pdGrpcEndpoints(http, "reach the storage client through");
  let client: RawKvClient | undefined;
  try {
    client = await RawKvClient.connect({
      pdEndpoints: endpoints,
      pd: { connectTimeoutMs: REQUEST_TIMEOUT_MS },
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      backoffBudgetMs: BACKOFF_BUDGET_MS,
    });
    return await body(client);
  } catch (error) {
    if (isClientError(error)) {
      throw new CommandError(`${operation} failed: ${oneLine(error)}`, { cause: error });
    }
    throw error;
  } finally {
    await client?.close();
  }
}

function isClientError(error: unknown): error is Error {
  return [
    BackoffBudgetExceededError,
    PdError,
    RawKvArgumentError,
    RawKvError,
    RegionRequestError,
    RpcError,
  ].some((errorClass) => error instanceof errorClass);
}

/** A budget error lists every cause on its own line; the first line and the last cause tell the story. */
function oneLine(error: Error): string {
  if (error instanceof BackoffBudgetExceededError) {
    const last = error.causes.at(-1);
    const [summary] = error.message.split("\n");
    return last === undefined ? summary! : `${summary}; last cause: ${last.error.message.split("\n")[0]}`;
  }
  return error.message.split("\n")[0]!;
}
