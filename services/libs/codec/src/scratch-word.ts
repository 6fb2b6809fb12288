/**
 * An 8-byte staging area for fixed-width encoders. DataView gives exact big-endian conversion of bigint
 * and float64, but creating one over every caller's buffer would allocate per call; staging through one
 * shared word costs a copy of 8 bytes instead. Safe because JavaScript runs each call to completion.
 */
export const scratchView = new DataView(new ArrayBuffer(8));
export const scratchBytes = new Uint8Array(scratchView.buffer);

/** `flip` is a sort-direction mask (see sort-direction.ts). */
export function copyScratchTo(target: Uint8Array, offset: number, flip: number): void {
  for (let index = 0; index < 8; index++) {
    target[offset + index] = scratchBytes[index] ^ flip;
  }
}

export function loadScratchFrom(source: Uint8Array, offset: number, flip: number): void {
  for (let index = 0; index < 8; index++) {
    scratchBytes[index] = source[offset + index] ^ flip;
  }
}
