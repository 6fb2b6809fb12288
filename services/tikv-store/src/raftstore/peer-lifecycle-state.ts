/**
 * A peer's lifecycle as one value, with every legal transition in one table (LEGAL_TRANSITIONS):
 *
 *   uninitialized → applying-snapshot → normal → applying-snapshot → normal …
 *   uninitialized | normal | applying-snapshot (once the install ends) → pending-destroy → destroyed
 *   uninitialized → destroyed (a split's peer replaces it)
 *
 * An uninitialized peer holds no data (a first message made it; it waits for a snapshot); a normal one
 * holds its region's data. A destroy asked for during a snapshot install waits in the applying state
 * until the install ends (the engines are being written), then the peer becomes pending-destroy; the loop
 * destroys pending peers at the end of the turn.
 */

export type PeerLifecycle =
  | { readonly kind: "uninitialized" }
  | { readonly kind: "normal" }
  | {
      readonly kind: "applying-snapshot";
      /** Whether the peer held data before this snapshot (its old range is still registered). */
      readonly initialized: boolean;
      /** A destroy asked for while installing, carried out once the install ends. */
      readonly destroyReason: string | undefined;
    }
  | { readonly kind: "pending-destroy"; readonly initialized: boolean; readonly reason: string }
  | { readonly kind: "destroyed"; readonly reason: string };

export type PeerLifecycleKind = PeerLifecycle["kind"];

export class PeerLifecycleError extends Error {
  override readonly name = "PeerLifecycleError";
}

const LEGAL_TRANSITIONS: { readonly [From in PeerLifecycleKind]: readonly PeerLifecycleKind[] } = {
  uninitialized: ["applying-snapshot", "pending-destroy", "destroyed"],
  normal: ["applying-snapshot", "pending-destroy"],
  "applying-snapshot": ["applying-snapshot", "normal", "pending-destroy"],
  "pending-destroy": ["destroyed"],
  destroyed: [],
};

/** Throws PeerLifecycleError when `from → to` is not in the table. */
export function checkTransition(regionId: bigint, from: PeerLifecycle, to: PeerLifecycle): void {
  if (!LEGAL_TRANSITIONS[from.kind].includes(to.kind)) {
    throw new PeerLifecycleError(`region ${regionId}: illegal peer transition ${from.kind} → ${to.kind}`);
  }
}

/** Whether the peer holds data for its range (registered in the store's range index). */
export function holdsData(lifecycle: PeerLifecycle): boolean {
  switch (lifecycle.kind) {
    case "normal":
      return true;
    case "applying-snapshot":
    case "pending-destroy":
      return lifecycle.initialized;
    case "uninitialized":
    case "destroyed":
      return false;
    default:
      return lifecycle satisfies never;
  }
}
