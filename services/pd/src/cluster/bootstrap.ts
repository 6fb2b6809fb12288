/**
 * Cluster bootstrap: the first store creates the cluster together with the one region that covers the
 * whole key space, in a single atomic write. Only the first request wins; later ones (including a
 * concurrent one) get AlreadyBootstrappedError.
 */
import type { metapb } from "#proto";
import { AlreadyBootstrappedError, InvalidMetadataError } from "./cluster-errors.ts";
import type { ClusterState } from "./cluster-state.ts";
import { validateRegion, validateStore } from "./metadata-validation.ts";

export interface BootstrapRequest {
  readonly store: metapb.Store | undefined;
  readonly region: metapb.Region | undefined;
}

export class ClusterBootstrapper {
  private inProgress: Promise<void> | undefined;

  constructor(
    private readonly cluster: ClusterState,
    private readonly clusterId: bigint,
    private readonly maxReplicas: number,
  ) {}

  isBootstrapped(): boolean {
    return this.cluster.isBootstrapped;
  }

  async bootstrap(request: BootstrapRequest): Promise<void> {
    if (this.cluster.isBootstrapped || this.inProgress !== undefined) {
      throw new AlreadyBootstrappedError(this.clusterId);
    }
    const { store, region } = request;
    validateStore(store);
    validateFirstRegion(region, store);
    const running = this.cluster.bootstrap(
      { id: this.clusterId, maxPeerCount: this.maxReplicas },
      store,
      region,
    );
    this.inProgress = running;
    try {
      await running;
    } finally {
      this.inProgress = undefined;
    }
  }
}

function validateFirstRegion(
  region: metapb.Region | undefined,
  store: metapb.Store,
): asserts region is metapb.Region {
  validateRegion(region);
  const subject = `first region ${region.id}`;
  if (region.startKey.length > 0 || region.endKey.length > 0) {
    throw new InvalidMetadataError(subject, "it must cover the whole key space (empty start and end keys)");
  }
  if (region.peers.length !== 1 || region.peers[0]!.storeId !== store.id) {
    throw new InvalidMetadataError(
      subject,
      `it must have exactly one peer, on the bootstrapping store ${store.id}`,
    );
  }
  if (region.id === store.id || region.peers[0]!.id === store.id || region.peers[0]!.id === region.id) {
    throw new InvalidMetadataError(subject, "store, region and peer ids must be distinct");
  }
}
