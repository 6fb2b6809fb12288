/**
 * `operator [list | add KIND ARGS...]` where KIND is transfer-leader REGION STORE, add-peer REGION STORE,
 * remove-peer REGION STORE or split REGION [HEX_KEY...]; `add` may be left out (`operator add-peer 2 3`).
 */
import { UsageError } from "../../cli-errors.ts";
import { asArray, asRecord, display, type JsonRecord } from "../../json-value.ts";
import { formatFields, formatTable } from "../../table.ts";
import type { CommandResult } from "../command-result.ts";
import { exactly, parseId, unknownAction } from "./arguments.ts";
import { API, type PdCommandContext } from "./pd-context.ts";

const KINDS =
  "transfer-leader REGION STORE, add-peer REGION STORE, remove-peer REGION STORE, split REGION [HEX_KEY...]";
const OPERATOR_KINDS = new Set(["transfer-leader", "add-peer", "remove-peer", "split", "split-region"]);
/** Finished operators shown under the running ones; --json has them all. */
const HISTORY_SHOWN = 20;

export async function operatorCommand(context: PdCommandContext): Promise<CommandResult> {
  const [action = "list", ...rest] = context.args;
  if (action === "list") {
    exactly(rest, [], "operator list");
    return listOperators(context);
  }
  if (action === "add") return addOperator(context, rest);
  if (OPERATOR_KINDS.has(action)) return addOperator(context, context.args);
  throw unknownAction("operator", action, `list or add ${KINDS}`);
}

async function listOperators(context: PdCommandContext): Promise<CommandResult> {
  const body = asRecord(await context.http.get(`${API}/operators`));
  const running = asArray(body.operators).map(asRecord);
  const history = asArray(body.history).map(asRecord).slice(-HISTORY_SHOWN);
  const text = `running:\n${operatorsTable(running)}\n\nrecently finished:\n${operatorsTable(history)}`;
  return { json: body, text };
}

async function addOperator(context: PdCommandContext, args: readonly string[]): Promise<CommandResult> {
  const request = operatorRequest(args);
  const body = asRecord(await context.http.post(`${API}/operators`, request));
  const operator = asRecord(body.operator);
  return { json: body, text: `added operator ${display(operator.description)}\n${operatorFields(operator)}` };
}

/** The JSON body of POST /operators; ids travel as decimal strings so none is rounded. */
export function operatorRequest(args: readonly string[]): Record<string, unknown> {
  const [kind, ...rest] = args;
  switch (kind) {
    case "transfer-leader": {
      const [region, store] = exactly(rest, ["REGION", "STORE"], "operator add transfer-leader REGION STORE");
      return { name: kind, region_id: parseId(region, "REGION"), to_store_id: parseId(store, "STORE") };
    }
    case "add-peer":
    case "remove-peer": {
      const [region, store] = exactly(rest, ["REGION", "STORE"], `operator add ${kind} REGION STORE`);
      return { name: kind, region_id: parseId(region, "REGION"), store_id: parseId(store, "STORE") };
    }
    case "split":
    case "split-region": {
      const [region, ...keys] = rest;
      const regionId = parseId(region, "REGION");
      const badKey = keys.find((key) => !/^([0-9a-fA-F]{2})+$/.test(key));
      if (badKey !== undefined) throw new UsageError(`split keys must be non-empty hex, got "${badKey}"`);
      return { name: "split-region", region_id: regionId, ...(keys.length === 0 ? {} : { keys }) };
    }
    case undefined:
      throw new UsageError(`missing operator kind; expected ${KINDS}`);
    default:
      throw new UsageError(`unknown operator kind "${kind}"; expected ${KINDS}`);
  }
}

export function operatorsTable(operators: readonly JsonRecord[]): string {
  return formatTable(
    [
      { header: "REGION", align: "right" },
      { header: "KIND" },
      { header: "DESCRIPTION" },
      { header: "STATUS" },
      { header: "STEP", align: "right" },
      { header: "CREATED" },
    ],
    operators.map((operator) => [
      display(operator.regionId),
      display(operator.kind),
      display(operator.description),
      statusText(operator),
      `${display(operator.currentStep)}/${asArray(operator.steps).length}`,
      timeText(operator.createdAtMs),
    ]),
  );
}

function operatorFields(operator: JsonRecord): string {
  return formatFields([
    ["region", display(operator.regionId)],
    ["kind", display(operator.kind)],
    ["priority", display(operator.priority)],
    ["status", statusText(operator)],
    ["steps", display(operator.stepDescriptions)],
    ["created", timeText(operator.createdAtMs)],
  ]);
}

function statusText(operator: JsonRecord): string {
  const reason =
    operator.reason === undefined || operator.reason === null ? "" : ` (${display(operator.reason)})`;
  return `${display(operator.status)}${reason}`;
}

function timeText(epochMs: unknown): string {
  const milliseconds = typeof epochMs === "string" ? Number(epochMs) : epochMs;
  return typeof milliseconds === "number" && Number.isFinite(milliseconds) && milliseconds > 0
    ? new Date(milliseconds).toISOString()
    : "-";
}
