/**
 * What the transaction layer needs from the raftstore, as an interface (the raftstore's Store satisfies
 * it; scheduler unit tests may stub it): consistent region reads, proposing a command's writes in the
 * term it was computed in, and the two range deletes.
 */

import type { metapb } from "#proto";
import type { Modify } from "../mvcc/mvcc-txn.ts";
import type { RegionReader } from "../raftstore/read-path.ts";
import type { KeyCheck, RequestContext } from "../raftstore/request-check.ts";

export interface TxnStore {
  readonly storeId: bigint;
  read<T>(
    context: RequestContext,
    check: KeyCheck,
    readFn: (reader: RegionReader) => T | Promise<T>,
  ): Promise<T>;
  writeTxn(
    context: RequestContext,
    read: { readonly region: metapb.Region; readonly term: number },
    modifies: readonly Modify[],
  ): Promise<void>;
  deleteTxnRange(context: RequestContext, startKey: Uint8Array, endKey: Uint8Array): Promise<void>;
  unsafeDestroyRange(startKey: Uint8Array, endKey: Uint8Array): Promise<void>;
}
