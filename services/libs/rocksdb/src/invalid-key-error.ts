/** A key the facade refuses before it reaches RocksDB (see MAX_KEY_BYTES). */
export class InvalidKeyError extends RangeError {
  override readonly name = "InvalidKeyError";

  constructor(
    readonly columnFamily: string,
    readonly keyHex: string,
    readonly problem: string,
  ) {
    super(`invalid key in column family ${columnFamily}: ${problem} (key ${keyHex})`);
  }
}
