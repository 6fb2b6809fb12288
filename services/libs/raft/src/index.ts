export { ConfChangeDecodeError, decodeConfChange, encodeConfChange } from "./conf-change.ts";
export {
  defaultRaftConfig,
  type RaftConfig,
  type RaftLogger,
  type RaftRandom,
  type ResolvedRaftConfig,
  resolveRaftConfig,
} from "./config.ts";
export {
  describeConfChange,
  describeEntry,
  describeHardState,
  describeMessage,
  describeReady,
  describeSnapshot,
  messageTypeName,
  roleName,
} from "./describe.ts";
export {
  InvalidConfChangeError,
  ProposalDroppedError,
  RaftConfigError,
  RaftInvariantError,
  RaftUsageError,
  StepLocalMessageError,
} from "./errors.ts";
export { CompactionBeyondSnapshotError, MemoryStorage } from "./memory-storage.ts";
export { RawNode } from "./raw-node.ts";
export type { Ready } from "./ready.ts";
export type { ProgressStateName, ProgressStatus, Status } from "./status.ts";
export {
  CompactedError,
  type InitialState,
  SnapshotOutOfDateError,
  SnapshotTemporarilyUnavailableError,
  type Storage,
  UnavailableError,
} from "./storage.ts";
export {
  CAMPAIGN_TRANSFER_CONTEXT,
  type ConfChange,
  ConfChangeType,
  type ConfState,
  EMPTY_BYTES,
  ENTRY_OVERHEAD_BYTES,
  type Entry,
  EntryType,
  entrySizeBytes,
  type HardState,
  isLocalMessage,
  isResponseMessage,
  type Message,
  MessageType,
  NO_ENTRIES,
  NONE,
  type NodeId,
  type ReadState,
  Role,
  type Snapshot,
  type SnapshotMetadata,
  type SoftState,
} from "./types.ts";
