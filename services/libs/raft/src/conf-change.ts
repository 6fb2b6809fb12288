import { type ConfChange, ConfChangeType, EMPTY_BYTES } from "./types.ts";

/** Layout: [type u8][node id as u32 high, u32 low][context…]. */
const HEADER_BYTES = 9;
const TWO_POW_32 = 2 ** 32;

export class ConfChangeDecodeError extends Error {
  override readonly name = "ConfChangeDecodeError";
  constructor(reason: string) {
    super(`cannot decode conf change entry: ${reason}`);
  }
}

/** Encodes a conf change as the data of an EntryType.ConfChange entry. */
export function encodeConfChange(change: ConfChange): Uint8Array {
  const context = change.context ?? EMPTY_BYTES;
  const bytes = new Uint8Array(HEADER_BYTES + context.byteLength);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, change.type);
  view.setUint32(1, Math.floor(change.nodeId / TWO_POW_32));
  view.setUint32(5, change.nodeId % TWO_POW_32);
  bytes.set(context, HEADER_BYTES);
  return bytes;
}

/** Decodes the data of an EntryType.ConfChange entry (the application does this when applying it). */
export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.byteLength < HEADER_BYTES)
    throw new ConfChangeDecodeError(`${data.byteLength} bytes is too short`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const type = view.getUint8(0);
  if (
    type !== ConfChangeType.AddNode &&
    type !== ConfChangeType.RemoveNode &&
    type !== ConfChangeType.AddLearnerNode
  ) {
    throw new ConfChangeDecodeError(`unknown type ${type}`);
  }
  const nodeId = view.getUint32(1) * TWO_POW_32 + view.getUint32(5);
  const context = data.subarray(HEADER_BYTES);
  return context.byteLength > 0 ? { type, nodeId, context } : { type, nodeId };
}
