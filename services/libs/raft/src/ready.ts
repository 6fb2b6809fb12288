import type { Entry, HardState, Message, ReadState, Snapshot, SoftState } from "./types.ts";

/**
 * Everything a RawNode asks the application to do, in one batch. Handle a Ready in this order:
 *
 *  1. Send `messages` at any time, even before persisting (the leader's appends and heartbeats: a leader
 *     may write its log in parallel with its followers, raft thesis 10.2.1).
 *  2. Persist, atomically and in Ready order: install `snapshot` (if any), then append `entries`
 *     (overwriting any conflicting suffix of the stored log), then save `hardState` (if any). Fsync when
 *     `mustSync`. Then call `RawNode.onPersisted(number)`; several Readys (of many groups) may share one
 *     fsync, reported with the highest number.
 *  3. Only after step 2 made this Ready durable, send `persistedMessages` (votes and append responses
 *     promise durable state).
 *  4. Apply `committedEntries` in order (calling `RawNode.applyConfChange` for conf change entries), and
 *     serve each `readStates` read once the applied index reaches its index. The entries are already
 *     durable, so applying may overlap step 2 (they must only be applied after any earlier Ready's
 *     snapshot is installed); on restart pass the applied index as `RaftConfig.appliedIndex`.
 *  5. Call `RawNode.advance(ready)` before asking for the next Ready.
 */
export interface Ready {
  /** Strictly increasing per RawNode; what `onPersisted` refers to. */
  readonly number: number;
  /** Leader and role, only when changed since the previous Ready. */
  readonly softState?: SoftState;
  /** Only when changed; persist before sending `persistedMessages`. */
  readonly hardState?: HardState;
  /** Append to stable storage; may overwrite a conflicting suffix. */
  readonly entries: readonly Entry[];
  /** Install into stable storage (and restore the state machine from it). */
  readonly snapshot?: Snapshot;
  /** Committed and durable locally: safe to apply now. */
  readonly committedEntries: readonly Entry[];
  /** May be sent immediately. */
  readonly messages: readonly Message[];
  /** Send only once this Ready's entries, hard state and snapshot are durable. */
  readonly persistedMessages: readonly Message[];
  readonly readStates: readonly ReadState[];
  /** True when the hard state's term or vote changed, or there are entries or a snapshot to persist. */
  readonly mustSync: boolean;
}
