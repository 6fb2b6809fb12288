/**
 * Raw gRPC to one store, bypassing every client-side check and retry: the tests that must see exactly
 * what a store answers (region errors, follower reads, malformed requests) talk through this.
 */
import type { ServiceError } from "@grpc/grpc-js";
import { kvrpcpb, type metapb, type tikvpb } from "#proto";
import { createTikvClient } from "../server/grpc-options.ts";

const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** One unary call as a promise: `grpcCall((done) => client.rawGet(request, done))`. */
export function grpcCall<Response>(
  invoke: (done: (error: ServiceError | null, response: Response) => void) => unknown,
): Promise<Response> {
  return new Promise((resolve, reject) =>
    invoke((error, response) => (error ? reject(error) : resolve(response))),
  );
}

/** gRPC clients by store address, closed together. */
export class StoreClients {
  private readonly clients = new Map<string, tikvpb.TikvClient>();

  for(address: string): tikvpb.TikvClient {
    let client = this.clients.get(address);
    if (client === undefined) {
      client = createTikvClient(address, MAX_MESSAGE_BYTES);
      this.clients.set(address, client);
    }
    return client;
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}

/** The request context addressing `peer` of `region` as the region is now. */
export function contextFor(
  region: metapb.Region,
  peer: metapb.Peer,
  overrides: Partial<kvrpcpb.Context> = {},
): kvrpcpb.Context {
  return kvrpcpb.Context.fromPartial({
    regionId: region.id,
    regionEpoch: region.regionEpoch,
    peer,
    ...overrides,
  });
}

/** Every pair of the region on the store behind `client` (a follower read when `replicaRead`). */
export function scanRegion(
  client: tikvpb.TikvClient,
  region: metapb.Region,
  peer: metapb.Peer,
  options: { readonly replicaRead: boolean; readonly limit: number },
): Promise<kvrpcpb.RawScanResponse> {
  return grpcCall<kvrpcpb.RawScanResponse>((done) =>
    client.rawScan(
      {
        context: contextFor(region, peer, { replicaRead: options.replicaRead }),
        startKey: region.startKey,
        endKey: region.endKey,
        limit: options.limit,
        keyOnly: false,
        reverse: false,
      },
      done,
    ),
  );
}
