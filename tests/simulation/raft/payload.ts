/**
 * The bytes the workload puts into proposals and read requests: a kind tag and a unique id, so the
 * checker can follow each client operation from request to acknowledgement through the raft log.
 */

const PROPOSAL_TAG = 0x70; // "p"
const READ_TAG = 0x72; // "r"
const PAYLOAD_SIZE_BYTES = 8;

function encode(tag: number, id: number): Uint8Array {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff)
    throw new RangeError(`payload id ${id} out of range`);
  const bytes = new Uint8Array(PAYLOAD_SIZE_BYTES);
  bytes[0] = tag;
  new DataView(bytes.buffer).setUint32(4, id);
  return bytes;
}

function decode(tag: number, bytes: Uint8Array | undefined): number | undefined {
  if (bytes === undefined || bytes.length !== PAYLOAD_SIZE_BYTES || bytes[0] !== tag) return undefined;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4);
}

export const encodeProposal = (id: number): Uint8Array => encode(PROPOSAL_TAG, id);
export const decodeProposal = (data: Uint8Array): number | undefined => decode(PROPOSAL_TAG, data);
export const encodeReadContext = (id: number): Uint8Array => encode(READ_TAG, id);
export const decodeReadContext = (context: Uint8Array | undefined): number | undefined =>
  decode(READ_TAG, context);
