export { CodecError, type CodecErrorReason } from "./codec-error.ts";
export { compareBytes } from "./compare-bytes.ts";
export type { Decoded } from "./decoded.ts";
export { INT64_MAX, INT64_MIN, UINT64_MAX } from "./integer-range.ts";
export {
  decodeBytes,
  decodeBytesDesc,
  encodeBytes,
  encodeBytesDesc,
  encodedBytesLength,
  writeBytes,
  writeBytesDesc,
} from "./memcomparable-bytes.ts";
export {
  decodeFloat64,
  decodeFloat64Desc,
  encodeFloat64,
  encodeFloat64Desc,
  FLOAT_SIZE,
  writeFloat64,
  writeFloat64Desc,
} from "./memcomparable-float.ts";
export {
  decodeInt64,
  decodeInt64Desc,
  decodeUint64,
  decodeUint64Desc,
  encodeInt64,
  encodeInt64Desc,
  encodeUint64,
  encodeUint64Desc,
  INTEGER_SIZE,
  writeInt64,
  writeInt64Desc,
  writeUint64,
  writeUint64Desc,
} from "./memcomparable-integer.ts";
export {
  appendTs,
  decodeMvccKey,
  decodeMvccKeyTs,
  encodeMvccKey,
  type MvccKey,
  truncateTs,
} from "./mvcc-key.ts";
export { prefixNext } from "./prefix-next.ts";
export {
  composeTimestamp,
  LOGICAL_BITS,
  LOGICAL_LIMIT,
  logicalOf,
  physicalMsOf,
  type SplitTimestamp,
  splitTimestamp,
} from "./timestamp.ts";
export {
  decodeUvarint,
  decodeVarint,
  encodeUvarint,
  encodeVarint,
  MAX_VARINT_SIZE,
  uvarintLength,
  varintLength,
  writeUvarint,
  writeVarint,
} from "./varint.ts";
