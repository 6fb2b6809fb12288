/**
 * A private network of "hosts" on this machine: one network namespace per node, each with a veth pair
 * whose outer end hangs on one bridge. The subnet exists only on that bridge (nothing routes it anywhere),
 * and the bridge's own address lets a client in the root namespace reach every node.
 *
 * Partitions are iptables DROP rules in the INPUT chain of each namespace (its own netfilter tables), so
 * deleting a namespace also deletes its rules. Every name starts with the network's prefix, which is how
 * `destroy` (and the sweep at the start of the next run) finds what a crashed run left behind.
 */
import { run, runTolerant } from "./shell.ts";

export interface NetworkOptions {
  /** Short: interface names are limited to 15 characters, and links are named `<prefix>-<node>`. */
  readonly prefix: string;
  /** The first three octets of a /24 that must not exist elsewhere on this machine, e.g. "10.77.0". */
  readonly subnet: string;
  readonly nodeNames: readonly string[];
}

/** Which nodes each node cannot hear from: `grudge.get(a)` holds the nodes whose packets `a` drops. */
export type Grudge = ReadonlyMap<string, ReadonlySet<string>>;

const FIRST_NODE_OCTET = 10;
const MAX_INTERFACE_NAME_LENGTH = 15;

export class ChaosNetwork {
  private readonly addresses = new Map<string, string>();

  private constructor(private readonly options: NetworkOptions) {
    options.nodeNames.forEach((name, index) => {
      this.addresses.set(name, `${options.subnet}.${FIRST_NODE_OCTET + index}`);
    });
  }

  /** Sweeps leftovers with the same prefix, then builds the bridge and the namespaces. */
  static async create(options: NetworkOptions): Promise<ChaosNetwork> {
    for (const name of options.nodeNames) {
      const linkName = `${options.prefix}-${name}`;
      if (linkName.length > MAX_INTERFACE_NAME_LENGTH)
        throw new Error(`interface name ${linkName} is too long`);
    }
    await sweepLeftovers(options.prefix);
    const network = new ChaosNetwork(options);
    try {
      await network.build();
    } catch (error) {
      await network.destroy();
      throw error;
    }
    return network;
  }

  get nodeNames(): readonly string[] {
    return this.options.nodeNames;
  }

  get bridgeAddress(): string {
    return `${this.options.subnet}.1`;
  }

  namespaceOf(node: string): string {
    return `${this.options.prefix}-${node}`;
  }

  addressOf(node: string): string {
    const address = this.addresses.get(node);
    if (address === undefined) throw new Error(`no node named ${node}`);
    return address;
  }

  /** Replaces any current partition: each node drops packets from the nodes it holds a grudge against. */
  async partition(grudge: Grudge): Promise<void> {
    await this.heal();
    for (const [node, unreachable] of grudge) {
      for (const other of unreachable) {
        await run(
          this.inNamespace(node, ["iptables", "-A", "INPUT", "-s", this.addressOf(other), "-j", "DROP"]),
        );
      }
    }
  }

  async heal(): Promise<void> {
    for (const node of this.options.nodeNames) await run(this.inNamespace(node, ["iptables", "-F", "INPUT"]));
  }

  /** The command line that runs `command` inside `node`'s namespace. */
  inNamespace(node: string, command: readonly string[]): string[] {
    return ["ip", "netns", "exec", this.namespaceOf(node), ...command];
  }

  /** Removes everything this network made; tolerates a half-built or already destroyed network. */
  async destroy(): Promise<void> {
    await sweepLeftovers(this.options.prefix);
  }

  private async build(): Promise<void> {
    const bridge = bridgeName(this.options.prefix);
    await run(["ip", "link", "add", bridge, "type", "bridge"]);
    await run(["ip", "addr", "add", `${this.bridgeAddress}/24`, "dev", bridge]);
    await run(["ip", "link", "set", bridge, "up"]);
    for (const node of this.options.nodeNames) {
      const namespace = this.namespaceOf(node);
      const outer = `${this.options.prefix}-${node}`;
      await run(["ip", "netns", "add", namespace]);
      await run(["ip", "link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", namespace]);
      await run(["ip", "link", "set", outer, "master", bridge]);
      await run(["ip", "link", "set", outer, "up"]);
      await run(["ip", "-n", namespace, "addr", "add", `${this.addressOf(node)}/24`, "dev", "eth0"]);
      await run(["ip", "-n", namespace, "link", "set", "eth0", "up"]);
      await run(["ip", "-n", namespace, "link", "set", "lo", "up"]);
    }
  }
}

function bridgeName(prefix: string): string {
  return `${prefix}-br`;
}

/** Namespaces (and any process still inside them) and links whose names start with `prefix-`. */
export async function listLeftovers(prefix: string): Promise<{ namespaces: string[]; links: string[] }> {
  const namespaceList = (await runTolerant(["ip", "netns", "list"])) ?? "";
  const namespaces = namespaceList
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.startsWith(`${prefix}-`));
  const linkList = (await runTolerant(["ip", "-o", "link", "show"])) ?? "";
  const links = linkList
    .split("\n")
    .map((line) => (line.split(": ")[1] ?? "").split("@")[0] ?? "")
    .filter((name) => name.startsWith(`${prefix}-`));
  return { namespaces, links };
}

/** Process ids running inside a namespace (`ip netns pids`). */
export async function pidsInNamespace(namespace: string): Promise<number[]> {
  const output = (await runTolerant(["ip", "netns", "pids", namespace])) ?? "";
  return output
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map(Number);
}

async function sweepLeftovers(prefix: string): Promise<void> {
  const { namespaces, links } = await listLeftovers(prefix);
  for (const namespace of namespaces) {
    for (const pid of await pidsInNamespace(namespace)) killQuietly(pid);
    await runTolerant(["ip", "netns", "del", namespace]);
  }
  // Deleting a namespace deletes the veth ends inside it and with them their peers; the bridge remains.
  for (const link of links) await runTolerant(["ip", "link", "del", link]);
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}
