/**
 * What the playground runs: every member's name, ports, directories and command line, decided before
 * anything starts so the state file, the banner and the children agree.
 *
 * Ports: each member prefers the port it had last time in this data directory (so a restart keeps the
 * addresses the stores registered in pd), else the defaults below, else any free port.
 *   pd-i     gRPC 2379 + 2(i-1), HTTP 2378 + 2(i-1)   (2379/2378 for a single pd)
 *   store-i  gRPC 20160 + (i-1), status 20180 + (i-1)
 *   etcd     client 12379, peer 12380                 (only with --pd N > 1)
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_SHUTDOWN_DEADLINE_MS, InvariantError } from "#runtime";
import type { PlaygroundStartOptions } from "./playground-options.ts";
import { allocatePorts, PLAYGROUND_HOST } from "./port-allocator.ts";

export type MemberRole = "etcd" | "pd" | "store";

interface MemberBase {
  readonly name: string;
  readonly dataDir: string;
  readonly logPath: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Answers 200 once the member serves. */
  readonly healthUrl: string;
  /** SIGTERM, then SIGKILL after this long: the member's own shutdown deadline plus a margin. */
  readonly stopTimeoutMs: number;
}

export interface EtcdMember extends MemberBase {
  readonly role: "etcd";
  readonly clientUrl: string;
  readonly peerUrl: string;
}

export interface PdMember extends MemberBase {
  readonly role: "pd";
  /** host:port of the pdpb.PD gRPC service. */
  readonly clientAddress: string;
  readonly httpUrl: string;
}

export interface StoreMember extends MemberBase {
  readonly role: "store";
  /** host:port of the tikvpb.Tikv gRPC service. */
  readonly address: string;
  readonly statusUrl: string;
}

export type Member = EtcdMember | PdMember | StoreMember;

export interface ClusterPlan {
  readonly dataDir: string;
  /** Voters pd keeps for every region: three, or one per store when there are fewer stores. */
  readonly replicas: number;
  readonly etcd: EtcdMember | undefined;
  readonly pd: readonly PdMember[];
  readonly stores: readonly StoreMember[];
}

/** Ports a member used before, by member name, in the order of its role (see `portsOf`). */
export type SavedPorts = Readonly<Record<string, readonly number[]>>;

export interface PlanInputs {
  readonly options: PlaygroundStartOptions;
  readonly savedPorts: SavedPorts;
  /** Required when options.pdCount > 1. */
  readonly etcdBinary: string | undefined;
}

export const REPOSITORY_ROOT = fileURLToPath(new URL("../../../../../", import.meta.url));
/** Passed to every store so the launcher knows how long a graceful stop may take. */
export const PLAYGROUND_STORE_SHUTDOWN_DEADLINE_MS = 20_000;
const STOP_MARGIN_MS = 5_000;
/** pd's own default; fewer stores than this get one replica each, which pd could not otherwise reach. */
const MAX_REPLICAS = 3;
const ETCD_STOP_TIMEOUT_MS = 10_000;
const ETCD_NAME = "etcd";

export async function planCluster(inputs: PlanInputs): Promise<ClusterPlan> {
  const { options, savedPorts } = inputs;
  const names = memberNames(options);
  const preferred = names.flatMap(({ name, defaults }) => {
    const saved = savedPorts[name];
    return saved !== undefined && saved.length === defaults.length ? saved : defaults;
  });
  const ports = await allocatePorts(preferred);
  const portsByName = new Map(names.map(({ name }, index) => [name, ports.slice(2 * index, 2 * index + 2)]));
  const portPair = (name: string): readonly [number, number] => {
    const pair = portsByName.get(name)!;
    return [pair[0]!, pair[1]!];
  };
  const etcd =
    options.pdCount > 1 ? etcdMember(options.dataDir, inputs.etcdBinary, portPair(ETCD_NAME)) : undefined;
  const replicas = Math.min(MAX_REPLICAS, options.storeCount);
  const pd = range(options.pdCount).map((index) =>
    pdMember(options.dataDir, `pd-${index}`, portPair(`pd-${index}`), etcd, replicas),
  );
  const pdAddresses = pd.map((member) => member.clientAddress);
  const stores = range(options.storeCount).map((index) =>
    storeMember(options.dataDir, `store-${index}`, portPair(`store-${index}`), pdAddresses),
  );
  return { dataDir: options.dataDir, replicas, etcd, pd, stores };
}

export function membersOf(plan: ClusterPlan): readonly Member[] {
  return [...(plan.etcd === undefined ? [] : [plan.etcd]), ...plan.pd, ...plan.stores];
}

/** The ports to remember for the next start, in the order `planCluster` reads them back. */
export function portsOf(member: Member): readonly number[] {
  switch (member.role) {
    case "etcd":
      return [portOf(member.clientUrl), portOf(member.peerUrl)];
    case "pd":
      return [portOf(member.clientAddress), portOf(member.httpUrl)];
    case "store":
      return [portOf(member.address), portOf(member.statusUrl)];
  }
}

function memberNames(
  options: PlaygroundStartOptions,
): readonly { readonly name: string; readonly defaults: readonly number[] }[] {
  return [
    ...(options.pdCount > 1 ? [{ name: ETCD_NAME, defaults: [12379, 12380] }] : []),
    ...range(options.pdCount).map((index) => ({
      name: `pd-${index}`,
      defaults: [2379 + 2 * (index - 1), 2378 + 2 * (index - 1)],
    })),
    ...range(options.storeCount).map((index) => ({
      name: `store-${index}`,
      defaults: [20160 + index - 1, 20180 + index - 1],
    })),
  ];
}

function etcdMember(
  dataDir: string,
  binary: string | undefined,
  [clientPort, peerPort]: readonly [number, number],
): EtcdMember {
  if (binary === undefined) throw new InvariantError("an etcd member was planned without an etcd binary");
  const clientUrl = `http://${PLAYGROUND_HOST}:${clientPort}`;
  const peerUrl = `http://${PLAYGROUND_HOST}:${peerPort}`;
  const memberDir = join(dataDir, ETCD_NAME);
  return {
    role: "etcd",
    name: ETCD_NAME,
    dataDir: memberDir,
    logPath: logPath(dataDir, ETCD_NAME),
    command: binary,
    args: [
      `--name=${ETCD_NAME}`,
      `--data-dir=${memberDir}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=${ETCD_NAME}=${peerUrl}`,
    ],
    clientUrl,
    peerUrl,
    healthUrl: `${clientUrl}/health`,
    stopTimeoutMs: ETCD_STOP_TIMEOUT_MS,
  };
}

function pdMember(
  dataDir: string,
  name: string,
  [clientPort, httpPort]: readonly [number, number],
  etcd: EtcdMember | undefined,
  replicas: number,
): PdMember {
  const memberDir = join(dataDir, name);
  const httpUrl = `http://${PLAYGROUND_HOST}:${httpPort}`;
  return {
    role: "pd",
    name,
    dataDir: memberDir,
    logPath: logPath(dataDir, name),
    command: process.execPath,
    args: [
      ...tsxEntry("services/pd/src/main.ts"),
      ...["--name", name, "--data-dir", memberDir, "--listen-host", PLAYGROUND_HOST],
      ...["--client-port", String(clientPort), "--http-port", String(httpPort)],
      ...["--schedule.max-replicas", String(replicas)],
      ...(etcd === undefined ? [] : ["--etcd.endpoints", etcd.clientUrl]),
    ],
    clientAddress: `${PLAYGROUND_HOST}:${clientPort}`,
    httpUrl,
    healthUrl: `${httpUrl}/health`,
    stopTimeoutMs: DEFAULT_SHUTDOWN_DEADLINE_MS + STOP_MARGIN_MS,
  };
}

function storeMember(
  dataDir: string,
  name: string,
  [serverPort, statusPort]: readonly [number, number],
  pdAddresses: readonly string[],
): StoreMember {
  const memberDir = join(dataDir, name);
  const address = `${PLAYGROUND_HOST}:${serverPort}`;
  const statusAddress = `${PLAYGROUND_HOST}:${statusPort}`;
  return {
    role: "store",
    name,
    dataDir: memberDir,
    logPath: logPath(dataDir, name),
    command: process.execPath,
    args: [
      ...tsxEntry("services/tikv-store/src/main.ts"),
      ...["--data-dir", memberDir, "--server.addr", address, "--server.status-addr", statusAddress],
      ...["--pd.endpoints", pdAddresses.join(",")],
      ...["--shutdown.deadline", `${PLAYGROUND_STORE_SHUTDOWN_DEADLINE_MS}ms`],
    ],
    address,
    statusUrl: `http://${statusAddress}`,
    healthUrl: `http://${statusAddress}/health`,
    stopTimeoutMs: PLAYGROUND_STORE_SHUTDOWN_DEADLINE_MS + STOP_MARGIN_MS,
  };
}

/** Node runs the TypeScript entry point through tsx's loader, as `npm run pd` does, without npm in between. */
function tsxEntry(relativePath: string): readonly string[] {
  return ["--import", "tsx", join(REPOSITORY_ROOT, relativePath)];
}

function logPath(dataDir: string, name: string): string {
  return join(dataDir, "logs", `${name}.log`);
}

function portOf(address: string): number {
  const url = new URL(address.includes("://") ? address : `tcp://${address}`);
  return Number(url.port);
}

function range(count: number): readonly number[] {
  return Array.from({ length: count }, (_, index) => index + 1);
}
