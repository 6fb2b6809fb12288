/** `scheduler [list | pause NAME SECONDS | resume NAME]` */
import { asArray, asRecord, display, type JsonRecord } from "../../json-value.ts";
import { formatTable } from "../../table.ts";
import type { CommandResult } from "../command-result.ts";
import { exactly, parsePositiveSeconds, unknownAction } from "./arguments.ts";
import { API, type PdCommandContext } from "./pd-context.ts";

export async function schedulerCommand(context: PdCommandContext): Promise<CommandResult> {
  const [action = "list", ...rest] = context.args;
  switch (action) {
    case "list": {
      exactly(rest, [], "scheduler list");
      const body = asRecord(await context.http.get(`${API}/schedulers`));
      return { json: body, text: schedulersTable(asArray(body.schedulers).map(asRecord)) };
    }
    case "pause": {
      const [name, secondsText] = exactly(rest, ["NAME", "SECONDS"], "scheduler pause NAME SECONDS");
      const delay = parsePositiveSeconds(secondsText);
      const body = await context.http.post(`${API}/schedulers/${encodeURIComponent(name!)}/pause`, { delay });
      return { json: body, text: `scheduler ${name} paused for ${delay} s` };
    }
    case "resume": {
      const [name] = exactly(rest, ["NAME"], "scheduler resume NAME");
      const body = await context.http.post(`${API}/schedulers/${encodeURIComponent(name!)}/resume`, {});
      return { json: body, text: `scheduler ${name} resumed` };
    }
    default:
      throw unknownAction("scheduler", action, "list, pause NAME SECONDS, resume NAME");
  }
}

export function schedulersTable(schedulers: readonly JsonRecord[]): string {
  return formatTable(
    [{ header: "NAME" }, { header: "PAUSED" }, { header: "PAUSED UNTIL" }, { header: "STORES" }],
    schedulers.map((scheduler) => {
      const untilMs = Number(scheduler.pausedUntilMs);
      return [
        display(scheduler.name),
        scheduler.paused === true ? "yes" : "no",
        scheduler.paused === true && Number.isFinite(untilMs) ? new Date(untilMs).toISOString() : "-",
        display(scheduler.storeIds),
      ];
    }),
  );
}
