/** Failures of raw key-value calls that no retry can fix, carrying the operation and the key (in hex). */
import { keyHex } from "./key-range.ts";

/** The store refused the request itself (an oversized value, a malformed range) or failed running it. */
export class RawKvError extends Error {
  readonly operation: string;
  readonly keyHex: string;
  readonly detail: string;

  constructor(options: { readonly operation: string; readonly key: Uint8Array; readonly detail: string }) {
    const hex = keyHex(options.key);
    super(
      `raw ${options.operation} of key ${hex === "" ? "(empty)" : hex} failed on the store: ${options.detail}`,
    );
    this.name = "RawKvError";
    this.operation = options.operation;
    this.keyHex = hex;
    this.detail = options.detail;
  }
}

/** The caller passed arguments no store could serve (an empty key, a reversed range, a bad limit). */
export class RawKvArgumentError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = "RawKvArgumentError";
  }
}

export class RawKvClientClosedError extends Error {
  constructor(operation: string) {
    super(`raw key-value client is closed; cannot ${operation}`);
    this.name = "RawKvClientClosedError";
  }
}
