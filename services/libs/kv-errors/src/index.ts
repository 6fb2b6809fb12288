// `#kv-errors`: the errors the store and its clients share a vocabulary for. Pure (no I/O), so both the
// store and the client library import it.
export {
  REGION_ERROR_KINDS,
  type RegionErrorDetail,
  type RegionErrorKind,
  type RegionErrorOf,
} from "./region-error.ts";
export { regionErrorFromProto, regionErrorToProto } from "./region-error-proto.ts";
