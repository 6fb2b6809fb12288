/** `region [list [--limit N] | show ID | ID | key KEY [--key-format utf8|hex]]` */
import { UsageError } from "../../cli-errors.ts";
import { asArray, asRecord, display, displayBytes, type JsonRecord } from "../../json-value.ts";
import { formatFields, formatTable } from "../../table.ts";
import type { CommandResult } from "../command-result.ts";
import { bytesFromText } from "../key-format.ts";
import { exactly, parseId, unknownAction } from "./arguments.ts";
import { API, type PdCommandContext } from "./pd-context.ts";

const ACTIONS = "list [--limit N], show ID, key KEY [--key-format utf8|hex]";

export async function regionCommand(context: PdCommandContext): Promise<CommandResult> {
  const [action = "list", ...rest] = context.args;
  if (/^\d+$/.test(action)) return showRegion(context, `${API}/region/id/${parseId(action, "region ID")}`);
  switch (action) {
    case "list": {
      exactly(rest, [], "region list [--limit N]");
      const query = context.limit === undefined ? "" : `?limit=${parseLimit(context.limit)}`;
      const body = asRecord(await context.http.get(`${API}/regions${query}`));
      const regions = asArray(body.regions).map(asRecord);
      const total = `${regions.length} of ${display(body.count)} regions`;
      return { json: body, text: `${regionsTable(regions)}\n${total}` };
    }
    case "show": {
      const id = parseId(exactly(rest, ["ID"], "region show ID")[0], "region ID");
      return showRegion(context, `${API}/region/id/${id}`);
    }
    case "key": {
      const [key] = exactly(rest, ["KEY"], "region key KEY [--key-format utf8|hex]");
      // Checked here so a bad key is a usage error before pd is asked; pd decodes the key itself.
      bytesFromText(key!, context.keyFormat, "KEY");
      const format = context.keyFormat === "hex" ? "?format=hex" : "";
      return showRegion(context, `${API}/region/key/${encodeURIComponent(key!)}${format}`);
    }
    default:
      throw unknownAction("region", action, ACTIONS);
  }
}

async function showRegion(context: PdCommandContext, path: string): Promise<CommandResult> {
  const body = await context.http.get(path);
  return { json: body, text: regionFields(asRecord(body)) };
}

function parseLimit(text: string): number {
  const limit = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(limit)) {
    throw new UsageError(`--limit must be a whole number (0 = all), got "${text}"`);
  }
  return limit;
}

export function regionsTable(regions: readonly JsonRecord[]): string {
  return formatTable(
    [
      { header: "ID", align: "right" },
      { header: "START KEY" },
      { header: "END KEY" },
      { header: "CONF VER", align: "right" },
      { header: "VERSION", align: "right" },
      { header: "PEERS (id@store)" },
      { header: "LEADER STORE", align: "right" },
      { header: "SIZE", align: "right" },
      { header: "KEYS", align: "right" },
    ],
    regions.map((region) => {
      const epoch = asRecord(region.epoch);
      return [
        display(region.id),
        keyBound(region.start_key, "-inf"),
        keyBound(region.end_key, "+inf"),
        display(epoch.conf_ver),
        display(epoch.version),
        peerList(region.peers),
        display(asRecord(region.leader).store_id),
        displayBytes(region.approximate_size),
        display(region.approximate_keys),
      ];
    }),
  );
}

function regionFields(region: JsonRecord): string {
  const epoch = asRecord(region.epoch);
  const downPeers = asArray(region.down_peers).map((down) => {
    const record = asRecord(down);
    return `${peerText(record.peer)} (${display(record.down_seconds)} s)`;
  });
  return formatFields([
    ["id", display(region.id)],
    ["start key", keyBound(region.start_key, "-inf")],
    ["end key", keyBound(region.end_key, "+inf")],
    ["epoch", `conf_ver ${display(epoch.conf_ver)}, version ${display(epoch.version)}`],
    ["peers (id@store)", peerList(region.peers)],
    ["leader", region.leader === undefined ? "-" : peerText(region.leader)],
    ["down peers", display(downPeers)],
    ["pending peers", peerList(region.pending_peers)],
    ["approximate size", displayBytes(region.approximate_size)],
    ["approximate keys", display(region.approximate_keys)],
  ]);
}

/** pd sends keys as hex; an empty bound is the start or end of the key space. */
function keyBound(hexKey: unknown, unbounded: string): string {
  return hexKey === "" ? unbounded : display(hexKey);
}

function peerList(peers: unknown): string {
  return display(asArray(peers).map(peerText));
}

function peerText(peer: unknown): string {
  const record = asRecord(peer);
  const learner = record.role === "learner" ? " (learner)" : "";
  return `${display(record.id)}@${display(record.store_id)}${learner}`;
}
