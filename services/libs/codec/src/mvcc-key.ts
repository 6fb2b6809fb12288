import { CodecError } from "./codec-error.ts";
import { decodeBytes, ENCODED_GROUP_SIZE, encodedBytesLength, writeBytes } from "./memcomparable-bytes.ts";
import { decodeUint64Desc, INTEGER_SIZE, writeUint64Desc } from "./memcomparable-integer.ts";

/*
 * MVCC keys: encodeBytes(userKey) ++ ~ts (8 bytes big-endian). The memcomparable user key keeps all
 * versions of one key together and in user-key order (a key that is a prefix of another cannot
 * interleave with it, because the encoding is self-delimiting); the inverted timestamp puts the newest
 * version first, so a seek to (key, readTs) lands on the newest version visible at readTs.
 */

export interface MvccKey {
  readonly userKey: Uint8Array;
  readonly ts: bigint;
}

export function encodeMvccKey(userKey: Uint8Array, ts: bigint): Uint8Array {
  const keyLength = encodedBytesLength(userKey.length);
  const encoded = new Uint8Array(keyLength + INTEGER_SIZE);
  writeBytes(encoded, 0, userKey);
  writeUint64Desc(encoded, keyLength, ts);
  return encoded;
}

/** Adds a timestamp to an already encoded user key, so a scan can encode the key once and seek many versions. */
export function appendTs(encodedUserKey: Uint8Array, ts: bigint): Uint8Array {
  const encoded = new Uint8Array(encodedUserKey.length + INTEGER_SIZE);
  encoded.set(encodedUserKey);
  writeUint64Desc(encoded, encodedUserKey.length, ts);
  return encoded;
}

/** Decodes a whole MVCC key; anything after the timestamp is an error, since such a key is not ours. */
export function decodeMvccKey(encoded: Uint8Array): MvccKey {
  const userKey = decodeBytes(encoded, 0);
  const ts = decodeUint64Desc(encoded, userKey.nextOffset);
  if (ts.nextOffset !== encoded.length) {
    throw new CodecError("trailing-bytes", "bytes follow the timestamp of an MVCC key", ts.nextOffset);
  }
  return { userKey: userKey.value, ts: ts.value };
}

/**
 * The encoded user key without its timestamp, as a view over the same memory (no copy: this runs for
 * every version a scan passes). Checks only the length, not the groups, to stay cheap.
 */
export function truncateTs(encodedKeyWithTs: Uint8Array): Uint8Array {
  return encodedKeyWithTs.subarray(0, requireTsSuffix(encodedKeyWithTs));
}

/** The timestamp of an MVCC key, read from its last 8 bytes without decoding the user key. */
export function decodeMvccKeyTs(encodedKeyWithTs: Uint8Array): bigint {
  return decodeUint64Desc(encodedKeyWithTs, requireTsSuffix(encodedKeyWithTs)).value;
}

/** Returns where the timestamp starts, after checking the length fits an encoded key plus a timestamp. */
function requireTsSuffix(encodedKeyWithTs: Uint8Array): number {
  const keyLength = encodedKeyWithTs.length - INTEGER_SIZE;
  if (keyLength < ENCODED_GROUP_SIZE) {
    throw new CodecError(
      "truncated",
      `an MVCC key has at least ${ENCODED_GROUP_SIZE + INTEGER_SIZE} bytes, got ${encodedKeyWithTs.length}`,
      encodedKeyWithTs.length,
    );
  }
  // An encoded user key is a whole number of 9-byte groups.
  if (keyLength % ENCODED_GROUP_SIZE !== 0) {
    throw new CodecError(
      "non-canonical",
      `${encodedKeyWithTs.length} bytes cannot be an encoded user key plus a timestamp`,
      keyLength,
    );
  }
  return keyLength;
}
