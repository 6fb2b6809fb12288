import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { metapb } from "#proto";

/** A fresh directory removed after the enclosing test file, even when a test fails. */
export function temporaryDirectory(prefix: string): string {
  const directory = mkdtempSync(join(tmpdir(), `tessera-${prefix}-`));
  after(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

export const text = (value: string): Uint8Array => new TextEncoder().encode(value);
export const asText = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : new TextDecoder().decode(value);

export function testRegion(
  id: bigint,
  startKey: string,
  endKey: string,
  peerIds: readonly bigint[] = [id * 10n],
) {
  return metapb.Region.fromPartial({
    id,
    startKey: text(startKey),
    endKey: text(endKey),
    regionEpoch: { confVer: 1n, version: 1n },
    peers: peerIds.map((peerId, index) => ({ id: peerId, storeId: BigInt(index + 1) })),
  });
}
