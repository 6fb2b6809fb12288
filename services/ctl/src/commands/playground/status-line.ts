/** The one-line summary the foreground playground refreshes: store health, regions and leaders per store. */
import { asArray, asRecord, type JsonRecord } from "../../json-value.ts";
import { getJson } from "./readiness.ts";

export async function fetchStatusLine(pdHttpUrl: string, now: Date): Promise<string> {
  const [stores, regions] = await Promise.all([
    getJson(`${pdHttpUrl}/pd/api/v1/stores`),
    getJson(`${pdHttpUrl}/pd/api/v1/regions?limit=1`),
  ]);
  return formatStatusLine(now, stores, regions);
}

/** `stores` and `regions` are pd's JSON answers, undefined when pd did not answer. */
export function formatStatusLine(now: Date, stores: unknown, regions: unknown): string {
  const time = now.toTimeString().slice(0, 8);
  if (stores === undefined || regions === undefined) return `${time}  pd is not answering`;
  const storeList = asArray(asRecord(stores).stores)
    .map(asRecord)
    .sort((left, right) => Number(left.id) - Number(right.id));
  const up = storeList.filter((store) => store.health === "up").length;
  const leaders = storeList.map(leadersOf).join(" ");
  return `${time}  stores up ${up}/${storeList.length}  regions ${String(asRecord(regions).count ?? "?")}  leaders ${leaders || "-"}`;
}

function leadersOf(store: JsonRecord): string {
  return `s${String(store.id)}:${String(store.leader_count ?? "?")}`;
}
