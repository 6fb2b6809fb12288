/**
 * A region error on the wire: `errorpb.Error` with exactly one typed field set (kvproto's convention: the
 * client reads the field to decide how to retry) and always a `message` for logs.
 */
import { errorpb } from "#proto";
import { REGION_ERROR_KINDS, type RegionErrorDetail } from "./region-error.ts";

export function regionErrorToProto(detail: RegionErrorDetail, message: string): errorpb.Error {
  const { kind, ...fields } = detail;
  return errorpb.Error.fromPartial({ message, [kind]: fields });
}

/** The typed field of `error`, or undefined when it carries only a message. */
export function regionErrorFromProto(error: errorpb.Error): RegionErrorDetail | undefined {
  for (const kind of REGION_ERROR_KINDS) {
    const fields = error[kind];
    // The field named `kind` holds the message of kind `kind`: the pair is a RegionErrorOf<kind>.
    if (fields !== undefined) return { kind, ...fields } as RegionErrorDetail;
  }
  return undefined;
}
