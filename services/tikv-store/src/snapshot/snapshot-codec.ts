/**
 * The byte stream of a region snapshot. Chunk boundaries carry no meaning: the stream is a sequence of
 * records cut into chunks of at most `chunkSizeBytes`, so one large value may span several chunks.
 *
 *   header  : 0x01 version(1) region-id(8) index(8) term(8) region-length(4) metapb.Region
 *   kv      : 0x02 column-family(1) key-length(4) value-length(4) key value      (data keys, `z`-prefixed)
 *   trailer : 0x03 kv-count(8) kv-bytes(8) sha256(32)                             (sha256 of every earlier byte)
 *
 * Integers are big-endian. Exactly one header first, exactly one trailer last: a stream cut anywhere, or
 * with any byte changed, fails to decode.
 */
import { createHash, type Hash } from "node:crypto";
import { metapb } from "#proto";
import { MAX_KEY_BYTES } from "#rocksdb";
import { hex, isDataKeyInRange } from "../engine/keys.ts";
import { DATA_COLUMN_FAMILIES, type DataColumnFamily } from "../engine/kv-engine.ts";

export const SNAPSHOT_FORMAT_VERSION = 1;
export const DEFAULT_CHUNK_SIZE_BYTES = 1024 * 1024;
/** Larger values are refused so a hostile stream cannot make the decoder buffer without bound. */
export const DEFAULT_MAX_VALUE_BYTES = 64 * 1024 * 1024;
const MAX_REGION_BYTES = 1024 * 1024;

const HEADER = 0x01;
const KV = 0x02;
const TRAILER = 0x03;
const HEADER_FIXED_BYTES = 1 + 1 + 8 + 8 + 8 + 4;
const KV_FIXED_BYTES = 1 + 1 + 4 + 4;
const DIGEST_BYTES = 32;
const TRAILER_BYTES = 1 + 8 + 8 + DIGEST_BYTES;

export interface SnapshotHeader {
  readonly regionId: bigint;
  readonly index: number;
  readonly term: number;
  readonly region: metapb.Region;
}

export interface SnapshotKeyValue {
  readonly columnFamily: DataColumnFamily;
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/** The stream is not a well-formed, complete snapshot of the region it claims to be. */
export class SnapshotFormatError extends Error {
  override readonly name = "SnapshotFormatError";
  constructor(
    readonly regionId: bigint | undefined,
    readonly detail: string,
  ) {
    super(`snapshot${regionId === undefined ? "" : ` of region ${regionId}`} is malformed: ${detail}`);
  }
}

// ---- encoding ------------------------------------------------------------------------------------------

/** Builds the stream record by record and cuts it into chunks of exactly `chunkSizeBytes` (the last shorter). */
export class SnapshotEncoder {
  private readonly hash: Hash = createHash("sha256");
  private readonly ready: Uint8Array[] = [];
  private current: Buffer;
  private filled = 0;
  private kvCount = 0;
  private kvBytes = 0;

  constructor(private readonly chunkSizeBytes: number = DEFAULT_CHUNK_SIZE_BYTES) {
    if (!Number.isSafeInteger(chunkSizeBytes) || chunkSizeBytes < 1) {
      throw new RangeError(`chunk size ${chunkSizeBytes} must be a positive integer`);
    }
    this.current = Buffer.allocUnsafe(chunkSizeBytes);
  }

  header(header: SnapshotHeader): void {
    const region = metapb.Region.encode(header.region).finish();
    const fixed = Buffer.alloc(HEADER_FIXED_BYTES);
    fixed[0] = HEADER;
    fixed[1] = SNAPSHOT_FORMAT_VERSION;
    fixed.writeBigUInt64BE(header.regionId, 2);
    fixed.writeBigUInt64BE(BigInt(header.index), 10);
    fixed.writeBigUInt64BE(BigInt(header.term), 18);
    fixed.writeUInt32BE(region.length, 26);
    this.append(fixed);
    this.append(region);
  }

  keyValue(columnFamily: DataColumnFamily, key: Uint8Array, value: Uint8Array): void {
    const fixed = Buffer.alloc(KV_FIXED_BYTES);
    fixed[0] = KV;
    fixed[1] = DATA_COLUMN_FAMILIES.indexOf(columnFamily);
    fixed.writeUInt32BE(key.length, 2);
    fixed.writeUInt32BE(value.length, 6);
    this.append(fixed);
    this.append(key);
    this.append(value);
    this.kvCount += 1;
    this.kvBytes += key.length + value.length;
  }

  trailer(): void {
    const trailer = Buffer.alloc(TRAILER_BYTES);
    trailer[0] = TRAILER;
    trailer.writeBigUInt64BE(BigInt(this.kvCount), 1);
    trailer.writeBigUInt64BE(BigInt(this.kvBytes), 9);
    this.append(trailer.subarray(0, 17));
    // The digest covers everything before it, including the trailer's counts.
    const digest = this.hash.digest();
    this.appendUnhashed(digest);
    if (this.filled > 0) this.ready.push(this.current.subarray(0, this.filled));
    this.filled = 0;
  }

  /** Complete chunks produced so far; the caller takes them (the encoder forgets them). */
  takeChunks(): Uint8Array[] {
    return this.ready.splice(0, this.ready.length);
  }

  private append(bytes: Uint8Array): void {
    this.hash.update(bytes);
    this.appendUnhashed(bytes);
  }

  private appendUnhashed(bytes: Uint8Array): void {
    let offset = 0;
    while (offset < bytes.length) {
      const taken = Math.min(bytes.length - offset, this.chunkSizeBytes - this.filled);
      this.current.set(bytes.subarray(offset, offset + taken), this.filled);
      this.filled += taken;
      offset += taken;
      if (this.filled === this.chunkSizeBytes) {
        this.ready.push(this.current);
        this.current = Buffer.allocUnsafe(this.chunkSizeBytes);
        this.filled = 0;
      }
    }
  }
}

// ---- decoding ------------------------------------------------------------------------------------------

export type SnapshotRecord =
  | { readonly kind: "header"; readonly header: SnapshotHeader }
  | { readonly kind: "kv"; readonly keyValue: SnapshotKeyValue }
  | { readonly kind: "trailer"; readonly kvCount: number; readonly kvBytes: number };

export interface SnapshotDecoderOptions {
  /** When given, the header must name exactly this snapshot. */
  readonly expected?: { readonly regionId: bigint; readonly index: number; readonly term: number };
  readonly maxValueBytes?: number;
}

/**
 * Parses the stream incrementally and validates it as it goes: header first and as expected, column
 * families known, every key inside the header region's data range, counts and checksum in the trailer,
 * nothing after it. Holds at most one partial record between `push` calls.
 */
export class SnapshotDecoder {
  private readonly hash: Hash = createHash("sha256");
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes the incomplete record at the head of `pending` needs in total (0 = unknown). */
  private awaitedBytes = 0;
  private header: SnapshotHeader | undefined;
  private finished = false;
  private kvCount = 0;
  private kvBytes = 0;
  private readonly maxValueBytes: number;

  constructor(private readonly options: SnapshotDecoderOptions = {}) {
    this.maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  }

  get snapshotHeader(): SnapshotHeader | undefined {
    return this.header;
  }

  get isComplete(): boolean {
    return this.finished;
  }

  /** Records completed by this chunk, in order. */
  push(chunk: Uint8Array): SnapshotRecord[] {
    if (chunk.length === 0) return [];
    if (this.finished) throw this.error("bytes after the trailer");
    this.pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.pendingBytes += chunk.length;
    // A record spanning many chunks is assembled once, not re-concatenated on every chunk.
    if (this.pendingBytes < this.awaitedBytes) return [];
    const buffer = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    const records: SnapshotRecord[] = [];
    let offset = 0;
    let needed: number | undefined;
    while (!this.finished) {
      needed = this.recordLength(buffer, offset);
      if (needed === undefined || buffer.length - offset < needed) break;
      records.push(this.decodeRecord(buffer.subarray(offset, offset + needed)));
      offset += needed;
    }
    if (this.finished && offset < buffer.length) throw this.error("bytes after the trailer");
    const rest = buffer.subarray(offset);
    this.pending.length = 0;
    this.pendingBytes = rest.length;
    this.awaitedBytes = this.finished ? 0 : (needed ?? 0);
    // A copy, so the (possibly large) buffer the records point into is not kept alive by the remainder.
    if (rest.length > 0) this.pending.push(Buffer.from(rest));
    return records;
  }

  /** Throws unless the whole stream, trailer included, was decoded. */
  end(): SnapshotHeader {
    if (!this.finished || !this.header) {
      throw this.error(`stream ends early (${this.kvCount} pairs and ${this.pendingBytes} loose bytes read)`);
    }
    return this.header;
  }

  /** Length of the record at `offset`, or undefined while its fixed part is incomplete. */
  private recordLength(buffer: Buffer, offset: number): number | undefined {
    const available = buffer.length - offset;
    if (available < 1) return undefined;
    const kind = buffer[offset];
    if (this.header === undefined && kind !== HEADER) throw this.error(`stream starts with record ${kind}`);
    switch (kind) {
      case HEADER: {
        if (this.header !== undefined) throw this.error("second header");
        if (available < HEADER_FIXED_BYTES) return undefined;
        const regionLength = buffer.readUInt32BE(offset + 26);
        if (regionLength > MAX_REGION_BYTES) throw this.error(`region meta of ${regionLength} bytes`);
        return HEADER_FIXED_BYTES + regionLength;
      }
      case KV: {
        if (available < KV_FIXED_BYTES) return undefined;
        const keyLength = buffer.readUInt32BE(offset + 2);
        const valueLength = buffer.readUInt32BE(offset + 6);
        if (keyLength === 0 || keyLength > MAX_KEY_BYTES) throw this.error(`key of ${keyLength} bytes`);
        if (valueLength > this.maxValueBytes) throw this.error(`value of ${valueLength} bytes`);
        return KV_FIXED_BYTES + keyLength + valueLength;
      }
      case TRAILER:
        return TRAILER_BYTES;
      default:
        throw this.error(`unknown record type ${kind}`);
    }
  }

  private decodeRecord(bytes: Buffer): SnapshotRecord {
    switch (bytes[0]) {
      case HEADER:
        this.hash.update(bytes);
        return { kind: "header", header: this.decodeHeader(bytes) };
      case KV:
        this.hash.update(bytes);
        return { kind: "kv", keyValue: this.decodeKeyValue(bytes) };
      default:
        return this.decodeTrailer(bytes);
    }
  }

  private decodeHeader(bytes: Buffer): SnapshotHeader {
    if (bytes[1] !== SNAPSHOT_FORMAT_VERSION) throw this.error(`unknown format version ${bytes[1]}`);
    const regionId = bytes.readBigUInt64BE(2);
    const index = safeNumber(bytes.readBigUInt64BE(10));
    const term = safeNumber(bytes.readBigUInt64BE(18));
    let region: metapb.Region;
    try {
      region = metapb.Region.decode(bytes.subarray(HEADER_FIXED_BYTES));
    } catch (error) {
      throw this.error(`region meta does not decode: ${String(error)}`);
    }
    const header = { regionId, index, term, region };
    if (region.id !== regionId) throw this.error(`header region id ${regionId} but region meta ${region.id}`);
    const expected = this.options.expected;
    if (expected && (expected.regionId !== regionId || expected.index !== index || expected.term !== term)) {
      throw this.error(
        `header is region ${regionId} index ${index} term ${term}, expected region ${expected.regionId} ` +
          `index ${expected.index} term ${expected.term}`,
      );
    }
    this.header = header;
    return header;
  }

  private decodeKeyValue(bytes: Buffer): SnapshotKeyValue {
    const columnFamily = DATA_COLUMN_FAMILIES[bytes[1]!];
    if (columnFamily === undefined) throw this.error(`unknown column family ${bytes[1]}`);
    const keyLength = bytes.readUInt32BE(2);
    const key = bytes.subarray(KV_FIXED_BYTES, KV_FIXED_BYTES + keyLength);
    const value = bytes.subarray(KV_FIXED_BYTES + keyLength);
    const region = this.header!.region;
    if (!isDataKeyInRange(key, region.startKey, region.endKey)) {
      throw this.error(`key ${hex(key)} is outside the region's data range`);
    }
    this.kvCount += 1;
    this.kvBytes += key.length + value.length;
    return { columnFamily, key, value };
  }

  private decodeTrailer(bytes: Buffer): SnapshotRecord {
    const counts = bytes.subarray(0, 17);
    this.hash.update(counts);
    const kvCount = safeNumber(bytes.readBigUInt64BE(1));
    const kvBytes = safeNumber(bytes.readBigUInt64BE(9));
    if (kvCount !== this.kvCount || kvBytes !== this.kvBytes) {
      throw this.error(
        `trailer counts ${kvCount} pairs / ${kvBytes} bytes, read ${this.kvCount} / ${this.kvBytes}`,
      );
    }
    if (!this.hash.digest().equals(bytes.subarray(17))) throw this.error("checksum mismatch");
    this.finished = true;
    return { kind: "trailer", kvCount, kvBytes };
  }

  private error(detail: string): SnapshotFormatError {
    return new SnapshotFormatError(this.header?.regionId ?? this.options.expected?.regionId, detail);
  }
}

function safeNumber(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER))
    throw new SnapshotFormatError(undefined, `${value} is too large`);
  return Number(value);
}
