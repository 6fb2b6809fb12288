export type { Election, LeadershipEvent, LeadershipListener } from "./election.ts";
export { type EmbeddedBackendOptions, openEmbeddedBackend } from "./embedded-backend.ts";
export { EtcdTimeoutError, MalformedStoredValueError, NotLeaderError, StorageError } from "./errors.ts";
export { DEFAULT_LEASE_TTL_SECONDS, type EtcdBackendOptions, openEtcdBackend } from "./etcd-backend.ts";
export { decodeMember, encodeMember, MalformedMemberError, type MemberInfo } from "./member.ts";
export {
  BOOTSTRAP_KEY,
  CLUSTER_ID_KEY,
  GC_SAFE_POINT_KEY,
  ID_NEXT_KEY,
  paddedId,
  prefixEnd,
  REGION_KEY_PREFIX,
  regionKey,
  SCHEDULE_KEY_PREFIX,
  STORE_KEY_PREFIX,
  storeKey,
  TSO_WINDOW_KEY,
} from "./meta-keys.ts";
export {
  type KeyValue,
  MAX_BATCH_OPERATIONS,
  MAX_LOAD_RANGE_LIMIT,
  type MetaStorage,
} from "./meta-storage.ts";
export type { PdBackend } from "./pd-backend.ts";
