/** Every failure of this library, carrying what was being done, on which database and column family. */
export class RocksDbError extends Error {
  override readonly name = "RocksDbError";

  constructor(
    readonly operation: string,
    readonly path: string,
    readonly columnFamily: string | undefined,
    detail: string,
    options?: { readonly cause?: unknown },
  ) {
    const where = columnFamily === undefined ? path : `${path}, column family ${columnFamily}`;
    super(`rocksdb ${operation} failed (${where}): ${detail}`, options);
  }

  /** Wraps an error thrown by the binding; abstract-level hides RocksDB's own status text in `cause`. */
  static wrap(
    operation: string,
    path: string,
    columnFamily: string | undefined,
    error: unknown,
  ): RocksDbError {
    return new RocksDbError(operation, path, columnFamily, describeCauses(error), { cause: error });
  }
}

const MAX_CAUSE_DEPTH = 4;

function describeCauses(error: unknown): string {
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && current !== undefined; depth++) {
    messages.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return messages.join(": ");
}
