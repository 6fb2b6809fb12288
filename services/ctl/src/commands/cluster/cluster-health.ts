/**
 * `cluster health`: one verdict from pd's view of the cluster. Unhealthy when a pd member fails its health
 * check, a store that should serve is disconnected or down, no store has registered, or a region has no
 * leader (its keys cannot be served). Offline and tombstone stores are being removed on purpose and do
 * not count against the cluster.
 */
import type { PdHttpClient } from "../../http.ts";
import { asArray, asRecord, display, type JsonRecord } from "../../json-value.ts";
import { formatTable } from "../../table.ts";
import type { CommandResult } from "../command-result.ts";
import { API } from "../pd/pd-context.ts";

const REMOVED_ON_PURPOSE = new Set(["offline", "tombstone"]);
/** Regions without a leader named in the text; --json lists them all. */
const LEADERLESS_SHOWN = 20;

export interface ClusterHealthReport {
  readonly healthy: boolean;
  readonly problems: readonly string[];
  readonly members: readonly { readonly name: string; readonly healthy: boolean }[];
  readonly stores: readonly { readonly id: string; readonly address: string; readonly health: string }[];
  readonly regions: { readonly count: number; readonly withoutLeader: readonly string[] };
}

export async function clusterHealthCommand(http: PdHttpClient): Promise<CommandResult> {
  const members = asArray(await http.get(`${API}/health`)).map(asRecord);
  const stores = asArray(asRecord(await http.get(`${API}/stores`)).stores).map(asRecord);
  // limit=0: every region, since one leaderless region anywhere makes the cluster unhealthy.
  const regions = asArray(asRecord(await http.get(`${API}/regions?limit=0`)).regions).map(asRecord);
  const report = assessClusterHealth(members, stores, regions);
  return {
    json: {
      healthy: report.healthy,
      problems: report.problems,
      members: report.members,
      stores: report.stores,
      regions: { count: report.regions.count, without_leader: report.regions.withoutLeader },
    },
    text: healthText(report),
    exitCode: report.healthy ? 0 : 1,
  };
}

export function assessClusterHealth(
  members: readonly JsonRecord[],
  stores: readonly JsonRecord[],
  regions: readonly JsonRecord[],
): ClusterHealthReport {
  const memberHealth = members.map((member) => ({
    name: display(member.name),
    healthy: member.health === true,
  }));
  const storeHealth = stores.map((store) => ({
    id: display(store.id),
    address: display(store.address),
    health: display(store.health),
  }));
  const serving = storeHealth.filter((store) => !REMOVED_ON_PURPOSE.has(store.health));
  const withoutLeader = regions
    .filter((region) => asRecord(region.leader).store_id === undefined)
    .map((region) => display(region.id));
  const problems = [
    ...memberHealth
      .filter((member) => !member.healthy)
      .map((member) => `pd member ${member.name} is unhealthy`),
    ...(memberHealth.length === 0 ? ["pd lists no members"] : []),
    ...serving
      .filter((store) => store.health !== "up")
      .map((store) => `store ${store.id} is ${store.health}`),
    ...(serving.length === 0 ? ["no store is serving"] : []),
    ...(withoutLeader.length === 0
      ? []
      : [`${withoutLeader.length} of ${regions.length} regions have no leader`]),
  ];
  return {
    healthy: problems.length === 0,
    problems,
    members: memberHealth,
    stores: storeHealth,
    regions: { count: regions.length, withoutLeader },
  };
}

function healthText(report: ClusterHealthReport): string {
  const members = formatTable(
    [{ header: "PD MEMBER" }, { header: "HEALTH" }],
    report.members.map((member) => [member.name, member.healthy ? "healthy" : "unhealthy"]),
  );
  const stores = formatTable(
    [{ header: "STORE", align: "right" }, { header: "ADDRESS" }, { header: "HEALTH" }],
    report.stores.map((store) => [store.id, store.address, store.health]),
  );
  const leaderless = report.regions.withoutLeader;
  const shown =
    leaderless.slice(0, LEADERLESS_SHOWN).join(",") + (leaderless.length > LEADERLESS_SHOWN ? ",..." : "");
  const regions = `regions: ${report.regions.count}, without a leader: ${leaderless.length}${leaderless.length > 0 ? ` (${shown})` : ""}`;
  const verdict = report.healthy
    ? "cluster is healthy"
    : `cluster is UNHEALTHY: ${report.problems.join("; ")}`;
  return [members, "", stores, "", regions, verdict].join("\n");
}
