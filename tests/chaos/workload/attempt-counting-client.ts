/**
 * A RawKvClient whose store RPCs are counted per call. The raw client resends a write after an unknown
 * outcome (a timeout, a broken stream), so a compare-and-swap that answers "not swapped" may have swapped
 * on an earlier attempt. Only a call that reached a store exactly once gives a definite "not swapped";
 * the workloads use `attempts` to tell the two apart.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { PdClient, RawKvClient, RegionCache, RpcClient, type RpcSendOptions } from "#client";
import type { tikvpb } from "#proto";
import { systemClock, systemRandom } from "#runtime";

interface AttemptCounter {
  sends: number;
}

const currentCounter = new AsyncLocalStorage<AttemptCounter>();

class CountingRpcClient extends RpcClient {
  override send(
    address: string,
    request: tikvpb.BatchCommandsRequest_Request,
    options: RpcSendOptions,
  ): Promise<tikvpb.BatchCommandsResponse_Response> {
    const counter = currentCounter.getStore();
    if (counter !== undefined) counter.sends++;
    return super.send(address, request, options);
  }
}

export interface CountedResult<Result> {
  readonly result: Result;
  /** Store requests the call sent, retries included. */
  readonly attempts: number;
}

export interface CountingClientOptions {
  readonly pdEndpoints: readonly string[];
  /** Deadline of one attempt; short so a partitioned store turns into a retry elsewhere quickly. */
  readonly requestTimeoutMs: number;
  /** Backoff budget of one call; when spent the call fails and the workload records it. */
  readonly backoffBudgetMs: number;
}

export class CountingRawKvClient {
  private constructor(readonly client: RawKvClient) {}

  static async connect(options: CountingClientOptions): Promise<CountingRawKvClient> {
    const shared = { clock: systemClock, random: systemRandom };
    const pd = await PdClient.connect({ endpoints: options.pdEndpoints });
    const regionCache = new RegionCache({ pd, ...shared });
    const rpc = new CountingRpcClient();
    const client = new RawKvClient(
      { regionCache, rpc, onClose: () => pd.close() },
      { requestTimeoutMs: options.requestTimeoutMs, backoffBudgetMs: options.backoffBudgetMs },
    );
    return new CountingRawKvClient(client);
  }

  /** Runs `call` and counts the store requests it sends. */
  async counted<Result>(call: (client: RawKvClient) => Promise<Result>): Promise<CountedResult<Result>> {
    const counter: AttemptCounter = { sends: 0 };
    const result = await currentCounter.run(counter, () => call(this.client));
    return { result, attempts: counter.sends };
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
