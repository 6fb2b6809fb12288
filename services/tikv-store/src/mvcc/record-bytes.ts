/**
 * The byte layout shared by the lock and write records: a fixed head (type byte, varint fields) followed
 * by optional fields, each a one-byte tag and its value, in ascending tag order. An old reader skips
 * nothing it does not know — an unknown tag is corrupt data — so adding a field means adding a tag that
 * every reader understands before any writer uses it.
 */
import { CodecError, decodeUvarint, encodeUvarint } from "#codec";

/** A record in the lock or write column family does not decode: the store's data is corrupt. */
export class MvccRecordError extends Error {
  override readonly name = "MvccRecordError";
  constructor(
    readonly record: "lock" | "write",
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`corrupt ${record} record: ${detail}`, options);
  }
}

export class RecordWriter {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  byte(value: number): this {
    return this.push(Uint8Array.of(value));
  }

  uvarint(value: bigint): this {
    return this.push(encodeUvarint(value));
  }

  /** Length-prefixed bytes. */
  bytes(value: Uint8Array): this {
    return this.uvarint(BigInt(value.length)).push(value);
  }

  /** At most 255 bytes behind a one-byte length (a short value). */
  shortBytes(value: Uint8Array): this {
    return this.byte(value.length).push(value);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const part of this.parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }

  private push(part: Uint8Array): this {
    this.parts.push(part);
    this.length += part.length;
    return this;
  }
}

/** The key of `table` whose byte is `byte`: a record's type from its type byte. */
function typeOfByte<Type extends string>(
  table: { readonly [key in Type]: number },
  byte: number,
): Type | undefined {
  for (const [type, value] of Object.entries(table)) if (value === byte) return type as Type;
  return undefined;
}

export class RecordReader {
  private offset = 0;
  private lastTag = -1;

  constructor(
    private readonly record: "lock" | "write",
    private readonly data: Uint8Array,
  ) {}

  get done(): boolean {
    return this.offset >= this.data.length;
  }

  byte(what: string): number {
    if (this.offset >= this.data.length) throw this.corrupt(`ends before its ${what}`);
    return this.data[this.offset++]!;
  }

  uvarint(what: string): bigint {
    try {
      const decoded = decodeUvarint(this.data, this.offset);
      this.offset = decoded.nextOffset;
      return decoded.value;
    } catch (error) {
      if (error instanceof CodecError) throw this.corrupt(`bad ${what}`, error);
      throw error;
    }
  }

  /** The record's type byte, named through `table`. */
  type<Type extends string>(table: { readonly [key in Type]: number }): Type {
    const byte = this.byte("type");
    const type = typeOfByte(table, byte);
    if (type === undefined) throw this.corrupt(`unknown type 0x${byte.toString(16)}`);
    return type;
  }

  /** The next optional field's tag; tags must ascend, so each field appears once. */
  tag(): number {
    const tag = this.byte("tag");
    if (tag <= this.lastTag) throw this.corrupt(`tag 0x${tag.toString(16)} out of order`);
    this.lastTag = tag;
    return tag;
  }

  unknownTag(tag: number): MvccRecordError {
    return this.corrupt(`unknown tag 0x${tag.toString(16)}`);
  }

  /** Length-prefixed bytes. */
  bytes(what: string): Uint8Array {
    const length = this.uvarint(`${what} length`);
    if (length > BigInt(this.data.length - this.offset)) throw this.corrupt(`${what} runs past the end`);
    return this.raw(Number(length), what);
  }

  /** At most 255 bytes behind a one-byte length (a short value). */
  shortBytes(what: string): Uint8Array {
    return this.raw(this.byte(`${what} length`), what);
  }

  private raw(length: number, what: string): Uint8Array {
    if (length > this.data.length - this.offset) throw this.corrupt(`${what} runs past the end`);
    const value = this.data.slice(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  corrupt(detail: string, cause?: unknown): MvccRecordError {
    return new MvccRecordError(this.record, `${detail} (at byte ${this.offset})`, { cause });
  }
}
