/** `store [list | show ID | ID | delete ID | evict-leader ID | stop-evict-leader ID]` */
import { asArray, asRecord, display, displayBytes, type JsonRecord } from "../../json-value.ts";
import { formatFields, formatTable } from "../../table.ts";
import type { CommandResult } from "../command-result.ts";
import { exactly, parseId, unknownAction } from "./arguments.ts";
import { API, type PdCommandContext } from "./pd-context.ts";

const ACTIONS = "list, show ID, delete ID, evict-leader ID, stop-evict-leader ID";

export async function storeCommand(context: PdCommandContext): Promise<CommandResult> {
  const [action = "list", ...rest] = context.args;
  const { http } = context;
  if (/^\d+$/.test(action)) return showStore(context, action);
  switch (action) {
    case "list": {
      exactly(rest, [], "store list");
      const body = await http.get(`${API}/stores`);
      return { json: body, text: storesTable(asArray(asRecord(body).stores).map(asRecord)) };
    }
    case "show":
      return showStore(context, exactly(rest, ["ID"], "store show ID")[0]);
    case "delete": {
      const id = parseId(exactly(rest, ["ID"], "store delete ID")[0], "store ID");
      const body = await http.delete(`${API}/store/${id}`);
      return { json: body, text: `store ${id} is being removed\n${storeFields(asRecord(body))}` };
    }
    case "evict-leader": {
      const id = parseId(exactly(rest, ["ID"], "store evict-leader ID")[0], "store ID");
      const body = await http.post(`${API}/store/${id}/evict-leader`, {});
      return { json: body, text: `evicting leaders from store ${id}` };
    }
    case "stop-evict-leader": {
      const id = parseId(exactly(rest, ["ID"], "store stop-evict-leader ID")[0], "store ID");
      const body = await http.delete(`${API}/store/${id}/evict-leader`);
      return { json: body, text: `no longer evicting leaders from store ${id}` };
    }
    default:
      throw unknownAction("store", action, ACTIONS);
  }
}

async function showStore(context: PdCommandContext, idText: string | undefined): Promise<CommandResult> {
  const id = parseId(idText, "store ID");
  const body = await context.http.get(`${API}/store/${id}`);
  return { json: body, text: storeFields(asRecord(body)) };
}

export function storesTable(stores: readonly JsonRecord[]): string {
  return formatTable(
    [
      { header: "ID", align: "right" },
      { header: "ADDRESS" },
      { header: "HEALTH" },
      { header: "STOPPING" },
      { header: "REGIONS", align: "right" },
      { header: "LEADERS", align: "right" },
      { header: "REGION SIZE", align: "right" },
      { header: "AVAILABLE", align: "right" },
      { header: "CAPACITY", align: "right" },
      { header: "LAST HEARTBEAT" },
    ],
    stores.map((store) => [
      display(store.id),
      display(store.address),
      display(store.health),
      store.stopping === true ? "yes" : "no",
      display(store.region_count),
      display(store.leader_count),
      displayBytes(store.region_size),
      displayBytes(store.available),
      displayBytes(store.capacity),
      display(store.last_heartbeat),
    ]),
  );
}

function storeFields(store: JsonRecord): string {
  const labels = asArray(store.labels).map(
    (label) => `${display(asRecord(label).key)}=${display(asRecord(label).value)}`,
  );
  return formatFields([
    ["id", display(store.id)],
    ["address", display(store.address)],
    ["peer address", display(store.peer_address)],
    ["status address", display(store.status_address)],
    ["version", display(store.version)],
    ["labels", display(labels)],
    ["health", display(store.health)],
    ["stopping", store.stopping === true ? "yes" : "no"],
    ["last heartbeat", display(store.last_heartbeat)],
    ["regions", display(store.region_count)],
    ["leaders", display(store.leader_count)],
    ["region size", displayBytes(store.region_size)],
    ["capacity", displayBytes(store.capacity)],
    ["available", displayBytes(store.available)],
    ["used", displayBytes(store.used_size)],
  ]);
}
