/**
 * Received snapshots staged on disk, at `<data-dir>/snap/<region>_<term>_<index>.snap`.
 *
 * A snapshot is received completely and verified into a file before anything touches the kv engine, so a
 * stream cut halfway changes nothing; and the file stays until the apply finished, so a store that crashes
 * in the middle of an apply re-applies from it on restart (see snapshot-applier.ts).
 */
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";

export interface SnapshotKey {
  readonly regionId: bigint;
  readonly term: number;
  readonly index: number;
}

const SNAPSHOT_SUFFIX = ".snap";
const TEMPORARY_MARKER = ".tmp-";
const READ_CHUNK_BYTES = 1024 * 1024;
const FILE_NAME = /^(\d+)_(\d+)_(\d+)\.snap$/;

export function describeSnapshotKey(key: SnapshotKey): string {
  return `region ${key.regionId} term ${key.term} index ${key.index}`;
}

export class SnapshotStore {
  private constructor(readonly directory: string) {}

  /** Opens (creating if missing) `<dataDirectory>/snap`. */
  static async open(dataDirectory: string): Promise<SnapshotStore> {
    const directory = join(dataDirectory, "snap");
    await mkdir(directory, { recursive: true });
    return new SnapshotStore(directory);
  }

  path(key: SnapshotKey): string {
    return join(this.directory, `${key.regionId}_${key.term}_${key.index}${SNAPSHOT_SUFFIX}`);
  }

  /** A unique temporary path: the same snapshot may be received twice at once (a leader's retry). */
  temporaryPath(key: SnapshotKey): string {
    return `${this.path(key)}${TEMPORARY_MARKER}${randomBytes(6).toString("hex")}`;
  }

  async has(key: SnapshotKey): Promise<boolean> {
    try {
      const handle = await open(this.path(key), "r");
      await handle.close();
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** The staged stream, in chunks of at most 1 MiB. */
  read(key: SnapshotKey): AsyncIterable<Uint8Array> {
    return createReadStream(this.path(key), { highWaterMark: READ_CHUNK_BYTES });
  }

  /** Moves a complete, verified temporary file into place durably (file and directory entry synced). */
  async publish(temporaryPath: string, key: SnapshotKey): Promise<void> {
    await rename(temporaryPath, this.path(key));
    const directory = await open(this.directory, "r");
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }

  async delete(key: SnapshotKey): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  /** Complete staged snapshots. */
  async list(): Promise<SnapshotKey[]> {
    const keys: SnapshotKey[] = [];
    for (const name of await readdir(this.directory)) {
      const match = FILE_NAME.exec(name);
      if (match) keys.push({ regionId: BigInt(match[1]!), term: Number(match[2]), index: Number(match[3]) });
    }
    return keys;
  }

  /** Removes leftovers of receives that never finished (a crash or a cut stream). */
  async removeTemporaryFiles(): Promise<number> {
    const names = (await readdir(this.directory)).filter((name) => name.includes(TEMPORARY_MARKER));
    await Promise.all(names.map((name) => rm(join(this.directory, name), { force: true })));
    return names.length;
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === "ENOENT";
}
