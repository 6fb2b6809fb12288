/**
 * The reference the model-based transaction test checks the store against: snapshot isolation over the
 * transactions that committed, each at its commit timestamp. A read at ts sees the newest committed write
 * at or below ts; two committed transactions writing a common key never overlap in time (first committer
 * wins). A transaction that starts exactly at another's commit_ts reads its writes, so it does not overlap
 * it: with async commit and 1PC a commit_ts (start_ts + 1, max_ts + 1) can equal a TSO start_ts.
 */
import { compareBytes } from "#codec";

export interface CommittedTxn {
  readonly name: string;
  readonly startTs: bigint;
  readonly commitTs: bigint;
  /** Hex key → value, undefined for a delete. */
  readonly writes: ReadonlyMap<string, Uint8Array | undefined>;
}

export interface ModelVersion {
  readonly commitTs: bigint;
  readonly value: Uint8Array | undefined;
}

export class SnapshotIsolationModel {
  /** Hex key → versions, newest first. */
  private readonly versions = new Map<string, ModelVersion[]>();

  constructor(readonly committed: readonly CommittedTxn[]) {
    for (const txn of committed) {
      for (const [key, value] of txn.writes) {
        const list = this.versions.get(key) ?? [];
        list.push({ commitTs: txn.commitTs, value });
        this.versions.set(key, list);
      }
    }
    for (const list of this.versions.values()) list.sort((a, b) => (a.commitTs > b.commitTs ? -1 : 1));
  }

  valueAt(hexKey: string, ts: bigint): Uint8Array | undefined {
    return this.versions.get(hexKey)?.find((version) => version.commitTs <= ts)?.value;
  }

  /** Every key's committed versions, newest first, keys in order. */
  history(): ReadonlyMap<string, readonly ModelVersion[]> {
    return new Map(
      [...this.versions.entries()].sort(([a], [b]) =>
        compareBytes(Buffer.from(a, "hex"), Buffer.from(b, "hex")),
      ),
    );
  }

  /** Pairs of committed transactions that wrote a common key while both were running. */
  writeConflicts(): string[] {
    const found: string[] = [];
    for (const [index, first] of this.committed.entries()) {
      for (const second of this.committed.slice(index + 1)) {
        const shared = [...first.writes.keys()].find((key) => second.writes.has(key));
        if (shared === undefined) continue;
        const disjoint = first.commitTs <= second.startTs || second.commitTs <= first.startTs;
        if (!disjoint) {
          found.push(
            `${first.name} [${first.startTs}, ${first.commitTs}] and ${second.name} ` +
              `[${second.startTs}, ${second.commitTs}] both committed key ${shared}`,
          );
        }
      }
    }
    return found;
  }
}
