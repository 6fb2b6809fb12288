// `#kv-errors`: the errors the store and its clients share a vocabulary for. Pure (no I/O), so both the
// store and the client library import it.
export type { RegionErrorDetail, RegionErrorKind } from "./region-error.ts";
export { regionErrorFromProto, regionErrorToProto } from "./region-error-proto.ts";
