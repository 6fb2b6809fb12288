/**
 * The peer: a 3-member etcd (Debian's /usr/bin/etcd) on loopback, driven with the etcd3 client. Gets are
 * linearizable (etcd3's default; serializable reads would skip the quorum round).
 */
import { Etcd3 } from "etcd3";
import { type EtcdCluster, startEtcdCluster } from "../../tests/support/etcd-cluster.ts";
import type { KvTarget } from "./kv-target.ts";

const PRELOAD_PER_TXN = 64;
const PRELOAD_PARALLEL = 16;

export class EtcdTarget implements KvTarget {
  readonly name = "etcd";

  private constructor(
    private readonly cluster: EtcdCluster,
    private readonly client: Etcd3,
  ) {}

  static async start(): Promise<EtcdTarget> {
    const cluster = await startEtcdCluster({ members: 3 });
    return new EtcdTarget(cluster, new Etcd3({ hosts: cluster.endpoints }));
  }

  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.client.put(Buffer.from(key)).value(Buffer.from(value));
  }

  async get(key: Uint8Array): Promise<void> {
    await this.client.get(Buffer.from(key)).buffer();
  }

  async preload(keys: readonly Uint8Array[], value: Uint8Array): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: PRELOAD_PARALLEL }, async () => {
        while (next < keys.length) {
          const batch = keys.slice(next, next + PRELOAD_PER_TXN);
          next += PRELOAD_PER_TXN;
          await this.client
            .if(Buffer.from(batch[0]!), "Version", ">", -1)
            .then(...batch.map((key) => this.client.put(Buffer.from(key)).value(Buffer.from(value))))
            .commit();
        }
      }),
    );
  }

  async close(): Promise<void> {
    this.client.close();
    await this.cluster.stop();
  }
}
