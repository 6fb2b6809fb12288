/**
 * The cluster id is created once, by the first leader, and stored; every member (and every later start)
 * reads it back. A member that is not the leader of a brand-new cluster waits for the leader to create it.
 */
import { type Clock, type Random, sleep, type Timers } from "#runtime";
import {
  CLUSTER_ID_KEY,
  MalformedStoredValueError,
  NotLeaderError,
  type PdBackend,
} from "../storage/index.ts";

/** No pd member became leader to create the cluster id while this member waited for it. */
export class ClusterIdTimeoutError extends Error {
  override readonly name = "ClusterIdTimeoutError";

  constructor(readonly waitedMs: number) {
    super(`no cluster id appeared in ${waitedMs} ms: no pd member became leader to create it`);
  }
}

/** Longest a member waits for the cluster id when another member must create it first. */
const CLUSTER_ID_WAIT_MS = 60_000;
const CLUSTER_ID_POLL_MS = 100;

export async function resolveClusterId(
  backend: PdBackend,
  clock: Clock,
  timers: Timers,
  random: Random,
): Promise<bigint> {
  const deadline = clock.monotonicMs() + CLUSTER_ID_WAIT_MS;
  while (clock.monotonicMs() < deadline) {
    const saved = await backend.storage.load(CLUSTER_ID_KEY);
    if (saved !== undefined) return parseClusterId(saved);
    if (backend.election.isLeader) {
      // Like PD: creation time in the high half keeps ids of clusters made at different times apart.
      const id = (BigInt(Math.floor(clock.nowMs() / 1000)) << 32n) | BigInt(random.nextUint32());
      try {
        await backend.storage.save(CLUSTER_ID_KEY, new TextEncoder().encode(id.toString()));
        return id;
      } catch (error) {
        if (!(error instanceof NotLeaderError)) throw error;
      }
    }
    await sleep(CLUSTER_ID_POLL_MS, timers);
  }
  throw new ClusterIdTimeoutError(CLUSTER_ID_WAIT_MS);
}

function parseClusterId(saved: Uint8Array): bigint {
  const text = new TextDecoder().decode(saved);
  if (!/^\d+$/.test(text) || text === "0") {
    throw new MalformedStoredValueError(CLUSTER_ID_KEY, text, "a cluster id (a positive integer)");
  }
  return BigInt(text);
}
