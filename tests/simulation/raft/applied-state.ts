/**
 * The simulated state machine: instead of data it keeps the chained hash of every entry applied so far
 * (see entry-hash.ts), which is all the checker needs to prove that replicas applied the same sequence.
 * A snapshot's data is that state: the index it covers and the hash there.
 */
import type { ConfState } from "#raft";

export interface AppliedState {
  readonly index: number;
  readonly hash: number;
  /** Membership after the entry at `index`, restored into the raft node on restart. */
  readonly confState: ConfState;
}

const SNAPSHOT_DATA_SIZE_BYTES = 16;

export function encodeSnapshotData(index: number, hash: number): Uint8Array {
  const bytes = new Uint8Array(SNAPSHOT_DATA_SIZE_BYTES);
  const view = new DataView(bytes.buffer);
  view.setFloat64(0, index);
  view.setFloat64(8, hash);
  return bytes;
}

export class MalformedSnapshotError extends Error {
  constructor(readonly sizeBytes: number) {
    super(`snapshot data of ${sizeBytes} bytes is not a simulated state machine image`);
    this.name = "MalformedSnapshotError";
  }
}

export function decodeSnapshotData(data: Uint8Array): { readonly index: number; readonly hash: number } {
  if (data.length !== SNAPSHOT_DATA_SIZE_BYTES) throw new MalformedSnapshotError(data.length);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { index: view.getFloat64(0), hash: view.getFloat64(8) };
}
