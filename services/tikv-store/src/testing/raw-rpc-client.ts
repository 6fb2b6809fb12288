/**
 * Raw gRPC routed the way a real client routes — pd names the region and its leader, region errors are
 * retried after a short pause (bounded) — for tests that must see a store's own answers without the
 * client library in between (stores as child processes, tracing before the client library loads).
 */
import type { ServiceError } from "@grpc/grpc-js";
import type { PdClient } from "#client";
import { type errorpb, kvrpcpb, type tikvpb } from "#proto";
import { StoreClients } from "./raw-rpc.ts";

const MAX_ATTEMPTS = 100;
const RETRY_PAUSE_MS = 100;

export class RawRpcClient {
  private readonly clients = new StoreClients();

  constructor(private readonly pd: PdClient) {}

  /** Waits until pd reports the region holding `key` with `voters` voters and a known leader. */
  async waitForReplicas(key: Uint8Array, voters: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = await this.pd.getRegion(key);
      const satisfied =
        found?.leader !== undefined && found.region.peers.filter((peer) => peer.role === 0).length === voters;
      if (satisfied) return;
      if (Date.now() > deadline)
        throw new Error(`region of ${Buffer.from(key)} never reached ${voters} voters`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * Runs a raw request against the region holding `key`, retrying on region errors (bounded), and
   * returns the first answer without one. `storeId` pins the store (follower reads).
   */
  async raw<Response extends { regionError?: errorpb.Error | undefined }>(
    key: Uint8Array,
    send: (
      client: tikvpb.TikvClient,
      context: kvrpcpb.Context,
      done: (error: ServiceError | null, response: Response) => void,
    ) => void,
    options: { readonly storeId?: bigint; readonly replicaRead?: boolean } = {},
  ): Promise<Response> {
    let lastProblem = "";
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const found = await this.pd.getRegion(key);
      const target = options.storeId ?? found?.leader?.storeId;
      const peer = found?.region.peers.find((candidate) => candidate.storeId === target);
      if (found !== undefined && peer !== undefined) {
        const context = kvrpcpb.Context.fromPartial({
          regionId: found.region.id,
          regionEpoch: found.region.regionEpoch,
          peer,
          replicaRead: options.replicaRead ?? false,
        });
        try {
          const client = this.clients.for(await this.address(peer.storeId));
          const response = await new Promise<Response>((resolve, reject) => {
            send(client, context, (error, answer) => (error ? reject(error) : resolve(answer)));
          });
          if (response.regionError === undefined) return response;
          lastProblem = response.regionError.message;
        } catch (error) {
          lastProblem = String(error);
        }
      } else {
        lastProblem = "pd knows no leader yet";
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
    }
    throw new Error(`request for key ${Buffer.from(key)} kept failing: ${lastProblem}`);
  }

  close(): void {
    this.clients.close();
  }

  private async address(storeId: bigint): Promise<string> {
    const store = (await this.pd.getStore(storeId))?.store;
    if (store === undefined) throw new Error(`pd knows no store ${storeId}`);
    return store.address;
  }
}
