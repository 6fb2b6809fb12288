import { CodecError } from "./codec-error.ts";

/**
 * Throws unless `count` bytes can be read at `offset`. Every decoder calls this before reading, because a
 * Uint8Array read past its end yields `undefined` instead of failing, which would turn into garbage values.
 */
export function requireReadable(buffer: Uint8Array, offset: number, count: number): void {
  requirePosition(buffer, offset);
  if (offset + count > buffer.length) {
    throw new CodecError(
      "truncated",
      `need ${count} bytes at offset ${offset} but the buffer holds ${buffer.length}`,
      buffer.length,
    );
  }
}

/**
 * Throws unless `count` bytes can be written at `offset`. A Uint8Array silently drops writes past its end,
 * so without this check a too-small target would hold a cut-off encoding.
 */
export function requireWritable(target: Uint8Array, offset: number, count: number): void {
  requirePosition(target, offset);
  if (offset + count > target.length) {
    throw new CodecError(
      "buffer-too-small",
      `need ${count} bytes at offset ${offset} but the target holds ${target.length}`,
      offset,
    );
  }
}

function requirePosition(buffer: Uint8Array, offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > buffer.length) {
    throw new CodecError(
      "out-of-range",
      `offset ${offset} is not a position in a ${buffer.length}-byte buffer`,
    );
  }
}
