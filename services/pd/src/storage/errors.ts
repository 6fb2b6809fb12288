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
