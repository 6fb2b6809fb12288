/** `health`: whether each pd member answers its health check. */
import { asArray, asRecord, display } from "../../json-value.ts";
import { formatTable } from "../../table.ts";
import type { CommandResult } from "../command-result.ts";
import { exactly } from "./arguments.ts";
import { API, type PdCommandContext } from "./pd-context.ts";

export async function healthCommand(context: PdCommandContext): Promise<CommandResult> {
  exactly(context.args, [], "health");
  const body = await context.http.get(`${API}/health`);
  const members = asArray(body).map(asRecord);
  const text = formatTable(
    [{ header: "NAME" }, { header: "HEALTH" }, { header: "CLIENT URLS" }],
    members.map((member) => [
      display(member.name),
      member.health === true ? "healthy" : "unhealthy",
      display(member.client_urls),
    ]),
  );
  return { json: body, text };
}
