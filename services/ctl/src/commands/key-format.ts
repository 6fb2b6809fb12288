/**
 * Keys and values on the command line: UTF-8 text by default, or hex for binary data. Output in UTF-8 is
 * decoded strictly, so bytes that are not text fail with a hint to use hex instead of printing mangled data.
 */
import { CommandError, UsageError } from "../cli-errors.ts";

export type ByteFormat = "utf8" | "hex";

const FORMATS: readonly ByteFormat[] = ["utf8", "hex"];

export function parseByteFormat(text: string | undefined, option: string): ByteFormat {
  if (text === undefined) return "utf8";
  if (!(FORMATS as readonly string[]).includes(text)) {
    throw new UsageError(`${option} must be utf8 or hex, got "${text}"`);
  }
  return text as ByteFormat;
}

/** `text` as bytes; `what` names the argument in the error ("KEY", "--start"). */
export function bytesFromText(text: string, format: ByteFormat, what: string): Uint8Array {
  if (format === "utf8") return new TextEncoder().encode(text);
  if (!/^([0-9a-fA-F]{2})*$/.test(text)) throw new UsageError(`${what} "${text}" is not hex`);
  return Uint8Array.from(Buffer.from(text, "hex"));
}

/** `bytes` as text in `format`; `option` is the flag that switches to hex, named in the error. */
export function textFromBytes(bytes: Uint8Array, format: ByteFormat, option: string): string {
  const hex = Buffer.from(bytes).toString("hex");
  if (format === "hex") return hex;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new CommandError(`${hex} is not valid UTF-8; rerun with ${option} hex`);
  }
}
