/**
 * Why a store refused a request for a region, as one tagged union shared by the store (its typed region
 * errors carry one) and the client (which reads one back from a response to decide how to retry).
 *
 * The union is derived from `errorpb.Error` rather than written next to it: each kind is spelled as the
 * errorpb field that carries it and holds exactly that field's message, so the store, the wire and the
 * client cannot disagree on a name or a field, and a kind added to the proto is a kind here at once.
 */
import type { errorpb } from "#proto";

export type RegionErrorKind = Exclude<keyof errorpb.Error, "message">;

/** One kind with the fields its errorpb message carries. */
type RegionErrorOf<Kind extends RegionErrorKind> = { readonly kind: Kind } & Readonly<
  NonNullable<errorpb.Error[Kind]>
>;

export type RegionErrorDetail = { [Kind in RegionErrorKind]: RegionErrorOf<Kind> }[RegionErrorKind];

// A record, so the compiler fails here when the proto gains or loses a kind; its order is the proto's
// field order, which decides the kind of a (malformed) error with two fields set.
const KIND_SET: Readonly<Record<RegionErrorKind, true>> = {
  notLeader: true,
  regionNotFound: true,
  keyNotInRegion: true,
  epochNotMatch: true,
  serverIsBusy: true,
  staleCommand: true,
  storeNotMatch: true,
  raftEntryTooLarge: true,
  regionNotInitialized: true,
  mismatchPeerId: true,
  readIndexNotReady: true,
};

export const REGION_ERROR_KINDS = Object.keys(KIND_SET) as readonly RegionErrorKind[];
