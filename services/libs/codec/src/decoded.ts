/**
 * A decoded value and the offset just past its encoding. Returning the offset lets a caller decode
 * several self-delimiting encodings from one buffer (a table key, an MVCC key) without slicing it.
 */
export interface Decoded<T> {
  readonly value: T;
  readonly nextOffset: number;
}
