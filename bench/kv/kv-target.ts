/** What the benchmark drives: the same put/get calls against Tessera's raw client or etcd. */
export interface KvTarget {
  readonly name: string;
  put(key: Uint8Array, value: Uint8Array): Promise<void>;
  get(key: Uint8Array): Promise<void>;
  /** Writes every key once so gets find values; may batch. */
  preload(keys: readonly Uint8Array[], value: Uint8Array): Promise<void>;
  close(): Promise<void>;
}
