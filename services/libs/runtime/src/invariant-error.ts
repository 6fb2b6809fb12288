/**
 * A programming error: the code reached a state its own invariants rule out. It is never a reason to
 * retry, to try another peer or to answer "unavailable": every layer that turns failures into retries
 * rethrows it, so a bug fails loudly (a test fails, an operation rejects with it) instead of hiding
 * behind a retry that happens to succeed.
 */
export class InvariantError extends Error {
  override readonly name: string = "InvariantError";

  constructor(message: string, options?: ErrorOptions) {
    super(`BUG: ${message}`, options);
  }
}
