/**
 * Why `txn locks` or `txn mvcc` could not read what the stores hold, one class per failure, each naming the
 * region or store involved. The session reports any of them as one line with exit code 1.
 */

export class TxnViewError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** pd has no region for a key or an id (the cluster is not bootstrapped, or the region merged away). */
export class RegionNotFoundError extends TxnViewError {
  constructor(readonly what: string) {
    super(`pd knows no region ${what}`);
  }
}

/** pd names a leader on a store it does not know. */
export class StoreNotFoundError extends TxnViewError {
  constructor(
    readonly storeId: bigint,
    readonly regionId: bigint,
  ) {
    super(`pd knows no store ${storeId}, which leads region ${regionId}`);
  }
}

/** The store did not answer: refused the connection, or let the deadline pass. */
export class StoreUnreachableError extends TxnViewError {
  constructor(
    readonly storeId: bigint,
    readonly address: string,
    readonly reason: string,
  ) {
    super(`store ${storeId} at ${address} is unreachable (${reason})`);
  }
}

/** The store answered the call with a gRPC error no retry mends (an older store without the RPC, say). */
export class StoreCallError extends TxnViewError {
  constructor(
    readonly storeId: bigint,
    readonly address: string,
    readonly method: string,
    cause: Error,
  ) {
    super(`store ${storeId} at ${address} failed ${method}: ${cause.message}`, { cause });
  }
}

/** The store answered, but with an error about the request itself rather than the region. */
export class StoreRefusedError extends TxnViewError {
  constructor(
    readonly storeId: bigint,
    readonly address: string,
    readonly method: string,
    readonly reason: string,
  ) {
    super(`store ${storeId} at ${address} refused ${method}: ${reason}`);
  }
}

/** pd names no leader for the region yet (it is electing one, or its leader has not reported in). */
export class NoLeaderError extends TxnViewError {
  constructor(readonly regionId: bigint) {
    super(`pd knows no leader of region ${regionId}`);
  }
}

/** Every attempt on a region met a region error, an unreachable store or no leader; `lastProblem` says which. */
export class RegionUnavailableError extends TxnViewError {
  constructor(
    readonly regionId: bigint,
    readonly attempts: number,
    readonly lastProblem: Error,
  ) {
    super(`${lastProblem.message}; gave up on region ${regionId} after ${attempts} attempts`, {
      cause: lastProblem,
    });
  }
}
