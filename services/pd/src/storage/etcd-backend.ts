import { Etcd3, type IOptions } from "etcd3";
import { createLogger, type Logger } from "#observability";
import { type Clock, systemClock, systemTimers, type Timers } from "#runtime";
import { StorageError } from "./errors.ts";
import { EtcdElection } from "./etcd-election.ts";
import { normaliseRootPath } from "./etcd-layout.ts";
import { EtcdMetaStorage } from "./etcd-meta-storage.ts";
import type { MemberInfo } from "./member.ts";
import type { PdBackend } from "./pd-backend.ts";

export interface EtcdBackendOptions {
  /** e.g. ["http://127.0.0.1:2379"]. */
  readonly endpoints: readonly string[];
  /** Every key of this pd cluster lives under it, e.g. "/tessera/pd". */
  readonly rootPath: string;
  readonly self: MemberInfo;
  /** Leader and member lease TTL [3]: a dead leader is replaced within about this long. */
  readonly leaseTtlSeconds: number;
  /** Deadline of each unary etcd call [5000]. */
  readonly requestTimeoutMs?: number;
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly timers?: Timers;
}

export const DEFAULT_LEASE_TTL_SECONDS = 3;
const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;
const DIAL_TIMEOUT_MS = 3_000;
const WATCH_RETRY_INITIAL_MS = 100;
const WATCH_RETRY_MAX_MS = 1_000;

type FaultHandling = NonNullable<IOptions["faultHandling"]>;
type WatchBackoff = NonNullable<FaultHandling["watchBackoff"]>;
type HostPolicy = ReturnType<NonNullable<FaultHandling["host"]>>;
type PolicyContext = Parameters<Parameters<HostPolicy["execute"]>[0]>[0];

/**
 * Calls every host directly. etcd3's default per-host circuit breaker refuses all calls to a host for 5 s
 * after three consecutive failures; with a single etcd endpoint, three slow keepalives on a loaded machine
 * would then cost the leader its lease. The election has its own bounded retry cadence instead.
 */
const passThroughHostPolicy: HostPolicy = {
  _altReturn: undefined as never,
  onSuccess: () => ({ dispose: () => {} }),
  onFailure: () => ({ dispose: () => {} }),
  execute: async <T>(
    call: (context: PolicyContext) => PromiseLike<T> | T,
    signal?: AbortSignal,
  ): Promise<T> => call({ signal: signal ?? new AbortController().signal }),
};

/**
 * Doubling delay between watch reconnects, capped at WATCH_RETRY_MAX_MS. etcd3's default grows to 30 s,
 * which delays followers' view of the leader after an etcd outage and, because etcd3 does not cancel its
 * retry timers on close, keeps a closed client's process alive for up to that long.
 */
function cappedWatchBackoff(durationMs: number): WatchBackoff {
  return {
    duration: durationMs,
    next: () => cappedWatchBackoff(Math.min(durationMs * 2, WATCH_RETRY_MAX_MS)),
  };
}

/**
 * Metadata in etcd and a lease-based election among the pd members sharing `rootPath`. Resolves once this
 * member is registered and knows the leader (or is it); fails if etcd cannot be reached.
 */
export async function openEtcdBackend(options: EtcdBackendOptions): Promise<PdBackend> {
  const { leaseTtlSeconds } = options;
  if (!Number.isInteger(leaseTtlSeconds) || leaseTtlSeconds < 1) {
    throw new RangeError(`leaseTtlSeconds must be a positive integer, got ${leaseTtlSeconds}`);
  }
  const rootPath = normaliseRootPath(options.rootPath);
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const client = new Etcd3({
    hosts: [...options.endpoints],
    dialTimeout: DIAL_TIMEOUT_MS,
    // Streams (watch, keepalive) live long; every other call gets a deadline so nothing waits forever.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + requestTimeoutMs }),
    faultHandling: {
      host: () => passThroughHostPolicy,
      watchBackoff: cappedWatchBackoff(WATCH_RETRY_INITIAL_MS),
    },
  });
  const root = client.namespace(`${rootPath}/`);
  const logger = (options.logger ?? createLogger({ component: "pd", level: "warn" })).child({
    subsystem: "etcd-backend",
    memberId: options.self.memberId,
  });
  let election: EtcdElection;
  try {
    election = await EtcdElection.start({
      root,
      self: options.self,
      leaseTtlSeconds,
      requestTimeoutMs,
      clock: options.clock ?? systemClock,
      timers: options.timers ?? systemTimers,
      logger,
    });
  } catch (error) {
    client.close();
    throw StorageError.wrap(`open (etcd ${options.endpoints.join(",")}, root ${rootPath})`, undefined, error);
  }
  let closing: Promise<void> | undefined;
  return {
    storage: new EtcdMetaStorage(root, election),
    election,
    close() {
      closing ??= election.close().finally(() => client.close());
      return closing;
    },
  };
}
