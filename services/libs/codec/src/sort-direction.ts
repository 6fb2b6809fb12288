/**
 * XOR masks that select a sort direction. A descending encoding is the ascending one with every bit
 * inverted, so encoders and decoders take the mask and apply it to each byte they write or read:
 * 0x00 keeps bytes as they are, 0xFF inverts them and thereby reverses the byte order of encodings.
 */
export const ASCENDING = 0x00;
export const DESCENDING = 0xff;
