import type { Election } from "./election.ts";
import type { MetaStorage } from "./meta-storage.ts";

export interface PdBackend {
  readonly storage: MetaStorage;
  readonly election: Election;
  /** Resigns leadership if held, deregisters the member, and releases every resource. Idempotent. */
  close(): Promise<void>;
}
