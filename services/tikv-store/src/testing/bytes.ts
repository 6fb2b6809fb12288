/** UTF-8 both ways, the one spelling every tikv-store test uses for keys and values. */
export const bytes = (value: string): Uint8Array => new TextEncoder().encode(value);

export const text = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : new TextDecoder().decode(value);
