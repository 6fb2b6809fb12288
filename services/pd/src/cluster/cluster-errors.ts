/**
 * Errors for requests pd refuses because of what they ask for (as opposed to which member they reached).
 * The gRPC service maps each one to its pdpb error type; the HTTP API maps them to status codes.
 */
export class NotBootstrappedError extends Error {
  override readonly name = "NotBootstrappedError";
  constructor() {
    super("cluster is not bootstrapped yet");
  }
}

export class AlreadyBootstrappedError extends Error {
  override readonly name = "AlreadyBootstrappedError";
  constructor(readonly clusterId: bigint) {
    super(`cluster ${clusterId} is already bootstrapped`);
  }
}

export class StoreNotFoundError extends Error {
  override readonly name = "StoreNotFoundError";
  constructor(readonly storeId: bigint) {
    super(`store ${storeId} not found`);
  }
}

export class StoreTombstoneError extends Error {
  override readonly name = "StoreTombstoneError";
  constructor(readonly storeId: bigint) {
    super(`store ${storeId} is a tombstone: it was removed and its id can never be used again`);
  }
}

export class RegionNotFoundError extends Error {
  override readonly name = "RegionNotFoundError";
  constructor(readonly description: string) {
    super(`region not found: ${description}`);
  }
}

/** A request carried metadata that cannot be right (missing fields, impossible ranges, unknown stores). */
export class InvalidMetadataError extends Error {
  override readonly name = "InvalidMetadataError";
  constructor(
    readonly subject: string,
    readonly problem: string,
  ) {
    super(`invalid ${subject}: ${problem}`);
  }
}

/** A region heartbeat from a leader of an older raft term than one pd already heard from at the same epoch. */
export class StaleLeaderTermError extends Error {
  override readonly name = "StaleLeaderTermError";
  constructor(
    readonly regionId: bigint,
    readonly reportedTerm: bigint,
    readonly knownTerm: bigint,
  ) {
    super(
      `stale leader of region ${regionId}: reported raft term ${reportedTerm} is older than term ${knownTerm} already reported`,
    );
  }
}
