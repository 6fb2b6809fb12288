/**
 * An in-process PdBackend for tests: one shared in-memory key space and an election the test drives by
 * hand, so several pd members can run in one process and a test can move leadership, fence a deposed
 * leader's writes (NotLeaderError, as the etcd backend does) or make storage fail — without etcd and in
 * milliseconds.
 */
import type { Election, LeadershipListener, MemberInfo, MetaStorage, PdBackend } from "../storage/index.ts";
import { NotLeaderError } from "../storage/index.ts";

interface KeyValue {
  readonly key: string;
  readonly value: Uint8Array;
}

export class MemoryPdGroup {
  private readonly data = new Map<string, Uint8Array>();
  private readonly members = new Map<
    bigint,
    { readonly info: MemberInfo; readonly listeners: Set<LeadershipListener> }
  >();
  private leaderId: bigint | undefined;
  /** When set, every storage call fails with this error (a storage outage). */
  failure: Error | undefined;
  /** Counts writes, so tests can check what reached storage. */
  writeCount = 0;

  /** A backend for `self`; the first member to join is elected unless `elect` says otherwise. */
  join(self: MemberInfo): PdBackend {
    const listeners = new Set<LeadershipListener>();
    this.members.set(self.memberId, { info: self, listeners });
    const isLeader = (): boolean => this.leaderId === self.memberId;
    const election: Election = {
      get isLeader() {
        return isLeader();
      },
      leader: () => this.leader(),
      members: async () => [...this.members.values()].map((member) => member.info),
      onLeadershipChange: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      resign: async () => {
        if (this.leaderId === self.memberId) this.elect(undefined);
      },
    };
    return {
      storage: new MemoryMetaStorage(this, self.memberId),
      election,
      close: async () => {
        this.members.delete(self.memberId);
        if (this.leaderId === self.memberId) this.elect(undefined);
      },
    };
  }

  leader(): MemberInfo | undefined {
    return this.leaderId === undefined ? undefined : this.members.get(this.leaderId)?.info;
  }

  /** Makes `memberId` the leader (undefined: nobody) and tells every member, like a lease expiring. */
  elect(memberId: bigint | undefined): void {
    this.leaderId = memberId;
    const leader = this.leader();
    for (const [id, member] of this.members) {
      for (const listener of [...member.listeners]) listener({ isLeader: id === memberId, leader });
    }
  }

  /** Leadership moves in storage at once but the listeners are not told: a deposed leader that has not noticed. */
  electSilently(memberId: bigint | undefined): void {
    this.leaderId = memberId;
  }

  read(key: string): Uint8Array | undefined {
    this.throwIfFailing();
    return this.data.get(key);
  }

  readRange(startKey: string, endKey: string, limit: number): KeyValue[] {
    this.throwIfFailing();
    return [...this.data.keys()]
      .filter((key) => key >= startKey && (endKey === "" || key < endKey))
      .sort()
      .slice(0, limit)
      .map((key) => ({ key, value: this.data.get(key)! }));
  }

  write(writer: bigint, operation: string, puts: readonly KeyValue[], deletes: readonly string[]): void {
    this.throwIfFailing();
    if (this.leaderId !== writer) throw new NotLeaderError(operation, this.leader());
    for (const { key, value } of puts) this.data.set(key, Uint8Array.from(value));
    for (const key of deletes) this.data.delete(key);
    this.writeCount++;
  }

  private throwIfFailing(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

class MemoryMetaStorage implements MetaStorage {
  constructor(
    private readonly group: MemoryPdGroup,
    private readonly memberId: bigint,
  ) {}

  async load(key: string): Promise<Uint8Array | undefined> {
    return this.group.read(key);
  }

  async loadRange(startKey: string, endKey: string, limit: number): Promise<KeyValue[]> {
    return this.group.readRange(startKey, endKey, limit);
  }

  async save(key: string, value: Uint8Array): Promise<void> {
    this.group.write(this.memberId, "save", [{ key, value }], []);
  }

  async saveBatch(puts: readonly KeyValue[], deletes: readonly string[] = []): Promise<void> {
    this.group.write(this.memberId, "saveBatch", puts, deletes);
  }

  async remove(key: string): Promise<void> {
    this.group.write(this.memberId, "remove", [], [key]);
  }
}

/** A lone member that leads from the start: the in-memory stand-in for the embedded backend. */
export function openMemoryBackend(self: MemberInfo): {
  readonly group: MemoryPdGroup;
  readonly backend: PdBackend;
} {
  const group = new MemoryPdGroup();
  const backend = group.join(self);
  group.electSilently(self.memberId);
  return { group, backend };
}

export function testMember(name: string, memberId: bigint): MemberInfo {
  return {
    name,
    memberId,
    clientUrls: [`http://${name}.invalid:2379`],
    httpUrls: [`http://${name}.invalid:2378`],
  };
}
