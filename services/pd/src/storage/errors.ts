import type { MemberInfo } from "./member.ts";

/** A leader-only write attempted by a member that is not (or no longer) the leader. */
export class NotLeaderError extends Error {
  override readonly name = "NotLeaderError";

  constructor(
    readonly operation: string,
    /** The current leader when known: followers hand it to clients as the NOT_LEADER hint. */
    readonly leader?: MemberInfo,
  ) {
    super(
      `${operation} refused: this pd member is not the leader` +
        (leader
          ? ` (leader is ${leader.name}, id ${leader.memberId}, ${leader.clientUrls.join(",")})`
          : " (no leader known)"),
    );
  }
}

/** The metadata store could not be reached or answered with an error. */
export class StorageError extends Error {
  override readonly name = "StorageError";

  constructor(
    readonly operation: string,
    readonly key: string | undefined,
    detail: string,
    options?: { readonly cause?: unknown },
  ) {
    super(`pd storage ${operation}${key === undefined ? "" : ` of ${key}`} failed: ${detail}`, options);
  }

  static wrap(operation: string, key: string | undefined, error: unknown): StorageError {
    if (error instanceof StorageError) return error;
    return new StorageError(operation, key, error instanceof Error ? error.message : String(error), {
      cause: error,
    });
  }
}

/** etcd did not answer within the time pd gives it (a keepalive, a watch being set up, a call at close). */
export class EtcdTimeoutError extends Error {
  override readonly name = "EtcdTimeoutError";

  constructor(
    readonly operation: string,
    readonly timeoutMs: number,
  ) {
    super(`etcd ${operation} did not finish within ${timeoutMs} ms`);
  }
}

/** A value pd reads back from its metadata store is not what pd writes there: the store was tampered with or corrupted. */
export class MalformedStoredValueError extends Error {
  override readonly name = "MalformedStoredValueError";

  constructor(
    readonly key: string,
    readonly value: string,
    readonly expected: string,
  ) {
    super(`stored value "${value}" at key ${key} is not ${expected}`);
  }
}
