/**
 * pd and three stores, each a real process in its own network namespace (see network.ts), reachable from
 * the root namespace at fixed addresses on the private bridge. Each store listens on loopback inside its
 * namespace behind a delay proxy (proxy/delay-proxy.ts) on the address it advertises, so clients and the
 * other stores reach it only through the proxy, whose added latency the nemesis sets. `start` sweeps what
 * a crashed run left, builds the network, starts the processes and waits until the first region has a
 * voter on every store; `destroy` removes all of it and is safe to call on a half-started cluster, twice,
 * or after a failure.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "#runtime";
import { ChaosNetwork, type Grudge } from "./network.ts";
import { NodeProcess } from "./node-process.ts";
import { checkChaosPrerequisites } from "./preflight.ts";
import { acquireRunLock } from "./run-lock.ts";

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const CHAOS_PREFIX = "tchaos";
const CHAOS_SUBNET = "10.77.0";
export const PD_NODE = "pd";
export const STORE_NODES = ["s1", "s2", "s3"] as const;
const PD_CLIENT_PORT = 2379;
const PD_HTTP_PORT = 2378;
const STORE_PORT = 20160;
/** The store's own listener, on loopback inside its namespace, behind the proxy on STORE_PORT. */
const STORE_INNER_PORT = 20161;
const STORE_STATUS_PORT = 20180;
const PROXY_CONTROL_PORT = 20190;
const REPLICATION_TIMEOUT_MS = 60_000;
const POLL_INTERVAL_MS = 250;
const PD_REQUEST_TIMEOUT_MS = 2_000;

export interface RegionView {
  readonly id: string;
  readonly startKeyHex: string;
  readonly endKeyHex: string;
  readonly voterStoreIds: readonly string[];
  readonly leaderStoreId: string | undefined;
}

export class ChaosCluster {
  readonly pd: NodeProcess;
  readonly stores: ReadonlyMap<string, NodeProcess>;
  private readonly proxies: ReadonlyMap<string, NodeProcess>;
  private readonly dataRoot = mkdtempSync(join(tmpdir(), "tessera-chaos-data-"));
  private destroyed = false;

  private constructor(
    readonly network: ChaosNetwork,
    private readonly releaseLock: () => void,
  ) {
    this.pd = new NodeProcess({
      name: PD_NODE,
      command: this.pdCommand(),
      cwd: REPO_ROOT,
      readyMessage: "pd ready",
    });
    this.stores = new Map(
      STORE_NODES.map((node) => [
        node,
        new NodeProcess({
          name: node,
          command: this.storeCommand(node),
          cwd: REPO_ROOT,
          readyMessage: "store ready",
        }),
      ]),
    );
    this.proxies = new Map(
      STORE_NODES.map((node) => [
        node,
        new NodeProcess({
          name: `${node}-proxy`,
          command: this.proxyCommand(node),
          cwd: REPO_ROOT,
          readyMessage: "proxy ready",
        }),
      ]),
    );
  }

  /** Checks root/netns/iptables, builds the network and starts every process; cleans up if any step fails. */
  static async start(): Promise<ChaosCluster> {
    await checkChaosPrerequisites();
    const releaseLock = acquireRunLock();
    let network: ChaosNetwork;
    try {
      network = await ChaosNetwork.create({
        prefix: CHAOS_PREFIX,
        subnet: CHAOS_SUBNET,
        nodeNames: [PD_NODE, ...STORE_NODES],
      });
    } catch (error) {
      releaseLock();
      throw error;
    }
    const cluster = new ChaosCluster(network, releaseLock);
    try {
      await cluster.pd.start();
      for (const proxy of cluster.proxies.values()) await proxy.start();
      // The first store bootstraps the cluster; the others join it, so start them one after another.
      for (const store of cluster.stores.values()) await store.start();
      await cluster.waitFullyReplicated();
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
    return cluster;
  }

  get pdEndpoint(): string {
    return `${this.network.addressOf(PD_NODE)}:${PD_CLIENT_PORT}`;
  }

  get nodeNames(): readonly string[] {
    return this.network.nodeNames;
  }

  process(node: string): NodeProcess {
    if (node === PD_NODE) return this.pd;
    const store = this.stores.get(node);
    if (store === undefined) throw new Error(`no node named ${node}`);
    return store;
  }

  /** The store node whose status port is this address (stores register as `<address>:20160`). */
  nodeOfStoreAddress(address: string): string | undefined {
    return STORE_NODES.find((node) => `${this.network.addressOf(node)}:${STORE_PORT}` === address);
  }

  storeStatusUrl(node: string): string {
    return `http://${this.network.addressOf(node)}:${STORE_STATUS_PORT}`;
  }

  partition(grudge: Grudge): Promise<void> {
    return this.network.partition(grudge);
  }

  heal(): Promise<void> {
    return this.network.heal();
  }

  /** Holds back all traffic into `node` (a store) by `ms` each way, through its proxy; 0 removes it. */
  async setDelay(node: string, ms: number): Promise<void> {
    if (!this.proxies.has(node)) throw new Error(`${node} has no delay proxy`);
    const url = `http://${this.network.addressOf(node)}:${PROXY_CONTROL_PORT}/delay?ms=${ms}`;
    const response = await fetch(url, { method: "PUT", signal: AbortSignal.timeout(PD_REQUEST_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`PUT ${url}: ${response.status} ${await response.text()}`);
  }

  /** Regions as pd sees them (leaders may lag the stores by a heartbeat). */
  async regions(): Promise<RegionView[]> {
    const body = (await this.pdGet("/pd/api/v1/regions")) as { regions?: RawRegion[] };
    return (body.regions ?? []).map(toRegionView);
  }

  /** Node names by store id, from pd's store list. */
  async storeNodesById(): Promise<Map<string, string>> {
    const body = (await this.pdGet("/pd/api/v1/stores")) as {
      stores?: Array<{ id: string; address: string }>;
    };
    const nodes = new Map<string, string>();
    for (const store of body.stores ?? []) {
      const node = this.nodeOfStoreAddress(store.address);
      if (node !== undefined) nodes.set(String(store.id), node);
    }
    return nodes;
  }

  /**
   * Splits the key space at `keys` (UTF-8 text) through pd's split operator, one key at a time, and waits
   * until every resulting region has a voter on each store and a leader, and pd has spread the leaders
   * over as many stores as there are regions (up to all of them).
   */
  async split(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const deadline = Date.now() + REPLICATION_TIMEOUT_MS;
      const keyHex = Buffer.from(key).toString("hex");
      for (;;) {
        const region = (await this.pdGet(`/pd/api/v1/region/key/${keyHex}?format=hex`)) as RawRegion;
        if (region.start_key === keyHex) break;
        // A conflicting operator (pd is still placing replicas) answers 409: try again shortly.
        await this.pdPost("/pd/api/v1/operators", {
          name: "split-region",
          region_id: String(region.id),
          keys: [keyHex],
        }).catch(() => undefined);
        if (Date.now() > deadline) throw new Error(`region ${region.id} was not split at ${key} in time`);
        await sleep(POLL_INTERVAL_MS);
      }
    }
    await this.waitFullyReplicated(keys.length + 1);
  }

  /** Kills every process, deletes namespaces, links and rules, and removes the data directories. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const processes = [this.pd, ...this.stores.values(), ...this.proxies.values()];
    for (const node of processes) node.resume();
    await Promise.all(processes.map((node) => node.kill()));
    await this.network.destroy();
    rmSync(this.dataRoot, { recursive: true, force: true });
    this.releaseLock();
  }

  private async waitFullyReplicated(regionCount = 1): Promise<void> {
    const deadline = Date.now() + REPLICATION_TIMEOUT_MS;
    for (;;) {
      const regions = await this.regions().catch(() => []);
      const leaderStores = new Set(regions.map((region) => region.leaderStoreId));
      const ready =
        regions.length >= regionCount &&
        regions.every(
          (region) => region.voterStoreIds.length === STORE_NODES.length && region.leaderStoreId,
        ) &&
        leaderStores.size >= Math.min(regionCount, STORE_NODES.length);
      if (ready) return;
      if (Date.now() > deadline) {
        throw new Error(
          `regions not replicated to ${STORE_NODES.length} stores within ${REPLICATION_TIMEOUT_MS} ms: ${JSON.stringify(regions)}\n${this.describeProcesses()}`,
        );
      }
      await sleep(POLL_INTERVAL_MS);
    }
  }

  /** Each process's state and, for those that exited, the tail of their output. */
  describeProcesses(): string {
    return [this.pd, ...this.stores.values()]
      .map((node) => `${node.name}: ${node.running ? "running" : `exited\n${node.output().slice(-4_000)}`}`)
      .join("\n");
  }

  private async pdGet(path: string): Promise<unknown> {
    const url = `http://${this.network.addressOf(PD_NODE)}:${PD_HTTP_PORT}${path}`;
    const response = await fetch(url, { signal: AbortSignal.timeout(PD_REQUEST_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
    return response.json();
  }

  private async pdPost(path: string, body: unknown): Promise<unknown> {
    const url = `http://${this.network.addressOf(PD_NODE)}:${PD_HTTP_PORT}${path}`;
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(PD_REQUEST_TIMEOUT_MS),
    });
    if (!response.ok) throw new Error(`POST ${url}: ${response.status} ${await response.text()}`);
    return response.json();
  }

  private pdCommand(): string[] {
    return this.network.inNamespace(PD_NODE, [
      ...nodeEntry("services/pd/src/main.ts"),
      "--name",
      "pd",
      "--data-dir",
      join(this.dataRoot, "pd"),
      "--listen-host",
      this.network.addressOf(PD_NODE),
      "--client-port",
      String(PD_CLIENT_PORT),
      "--http-port",
      String(PD_HTTP_PORT),
      "--schedule.interval",
      "200ms",
      // With a tolerance of 1, three regions on three stores end with one leader each, so a fault on
      // any store costs some region its leader.
      "--schedule.leader-balance-tolerance",
      "1",
    ]);
  }

  private proxyCommand(node: string): string[] {
    const address = this.network.addressOf(node);
    return this.network.inNamespace(node, [
      ...nodeEntry("tests/chaos/proxy/delay-proxy.ts"),
      "--listen",
      `${address}:${STORE_PORT}`,
      "--target",
      `127.0.0.1:${STORE_INNER_PORT}`,
      "--control",
      `${address}:${PROXY_CONTROL_PORT}`,
    ]);
  }

  private storeCommand(node: string): string[] {
    const address = this.network.addressOf(node);
    return this.network.inNamespace(node, [
      ...nodeEntry("services/tikv-store/src/main.ts"),
      "--data-dir",
      join(this.dataRoot, node),
      "--server.addr",
      `127.0.0.1:${STORE_INNER_PORT}`,
      "--server.advertise-addr",
      `${address}:${STORE_PORT}`,
      "--server.status-addr",
      `${address}:${STORE_STATUS_PORT}`,
      "--pd.endpoints",
      this.pdEndpoint,
      "--pd.store-heartbeat-interval",
      "1s",
      "--pd.region-heartbeat-interval",
      "1s",
    ]);
  }
}

function nodeEntry(mainPath: string): string[] {
  return [process.execPath, "--import", "tsx", join(REPO_ROOT, mainPath)];
}

interface RawPeer {
  readonly store_id: string;
  readonly role: string;
}

interface RawRegion {
  readonly id: string;
  readonly start_key: string;
  readonly end_key: string;
  readonly peers: readonly RawPeer[];
  readonly leader?: RawPeer;
}

function toRegionView(region: RawRegion): RegionView {
  return {
    id: String(region.id),
    startKeyHex: region.start_key,
    endKeyHex: region.end_key,
    voterStoreIds: region.peers.filter((peer) => peer.role === "voter").map((peer) => String(peer.store_id)),
    leaderStoreId: region.leader === undefined ? undefined : String(region.leader.store_id),
  };
}
