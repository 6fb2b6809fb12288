/**
 * Something other than an Error was thrown or rejected with (a string, an object from a callback API).
 * Error handlers, span recorders and task scopes work with Errors; this keeps the original `value` for
 * logs instead of flattening it into a message.
 */
export class ThrownValueError extends Error {
  override readonly name = "ThrownValueError";

  constructor(readonly value: unknown) {
    super(`a non-Error value was thrown: ${String(value)}`);
  }
}

/** `value` itself when it is an Error, else wrapped in a ThrownValueError. */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new ThrownValueError(value);
}
