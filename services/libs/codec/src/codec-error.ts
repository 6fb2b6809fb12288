/**
 * Why a value could not be encoded or decoded. Stable strings, so callers and tests can branch on the
 * kind of failure instead of parsing messages.
 */
export type CodecErrorReason =
  /** The input ends before the encoding does. */
  | "truncated"
  /** A memcomparable group marker outside 0xF7..0xFF (after undoing a descending inversion). */
  | "bad-marker"
  /** The padding of the last memcomparable group is not the pad byte. */
  | "non-zero-padding"
  /** Bytes that no encoder produces (an overlong varint, a float encoded as -0, a key of impossible length). */
  | "non-canonical"
  /** NaN has no place in an order, so it is neither encoded nor accepted when decoding. */
  | "not-a-number"
  /** An integer outside its type's range, or an offset that is not a position in the buffer. */
  | "out-of-range"
  /** A write target without room for the encoding. */
  | "buffer-too-small"
  /** A decoder that reads a whole buffer found bytes after the value. */
  | "trailing-bytes";

/** The one error every function in this library throws for bad input, carrying where and why it failed. */
export class CodecError extends Error {
  override readonly name = "CodecError";
  readonly reason: CodecErrorReason;
  /** Byte offset in the input where decoding failed; undefined for errors raised while encoding. */
  readonly offset: number | undefined;

  constructor(reason: CodecErrorReason, detail: string, offset?: number) {
    super(offset === undefined ? `${detail} (${reason})` : `${detail} (${reason} at offset ${offset})`);
    this.reason = reason;
    this.offset = offset;
  }
}
