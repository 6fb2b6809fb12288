/**
 * Test-only: a minimal raw-KV client that routes the way a real one does — asks pd for the region and
 * its leader, retries region errors after a short pause (bounded) — so cluster tests can talk to stores
 * through the generated gRPC client without the full client library.
 */
import type { ServiceError } from "@grpc/grpc-js";
import type { PdClient } from "#client";
import { type errorpb, kvrpcpb, type metapb, type tikvpb } from "#proto";
import { createTikvClient } from "./grpc-options.ts";
import { TEST_MAX_MESSAGE_BYTES } from "./test-raft-server.ts";

const MAX_ATTEMPTS = 100;
const RETRY_PAUSE_MS = 100;

export class RawTestClient {
  private readonly clients = new Map<string, tikvpb.TikvClient>();

  constructor(private readonly pd: PdClient) {}

  /** Waits until pd reports the region holding `key` with `voters` voters and a known leader. */
  async waitForReplicas(key: Uint8Array, voters: number, timeoutMs = 30_000): Promise<void> {
    let satisfied = false;
    const deadline = Date.now() + timeoutMs;
    while (!satisfied) {
      const found = await this.pd.getRegion(key);
      satisfied =
        found?.leader !== undefined && found.region.peers.filter((peer) => peer.role === 0).length === voters;
      if (satisfied) break;
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
          const client = await this.client(peer.storeId);
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
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private async client(storeId: bigint): Promise<tikvpb.TikvClient> {
    const store: metapb.Store | undefined = (await this.pd.getStore(storeId))?.store;
    if (store === undefined) throw new Error(`pd knows no store ${storeId}`);
    let client = this.clients.get(store.address);
    if (client === undefined) {
      client = createTikvClient(store.address, TEST_MAX_MESSAGE_BYTES);
      this.clients.set(store.address, client);
    }
    return client;
  }
}
