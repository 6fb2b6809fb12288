/** `member`: the pd members, marking the leader. */
import { asArray, asRecord, display, type JsonRecord } from "../../json-value.ts";
import { formatTable } from "../../table.ts";
import type { CommandResult } from "../command-result.ts";
import { exactly } from "./arguments.ts";
import { API, type PdCommandContext } from "./pd-context.ts";

export async function memberCommand(context: PdCommandContext): Promise<CommandResult> {
  exactly(context.args, [], "member");
  const body = asRecord(await context.http.get(`${API}/members`));
  const leaderId = asRecord(body.leader).member_id;
  const text = `cluster ${display(body.cluster_id)}\n${membersTable(asArray(body.members).map(asRecord), leaderId)}`;
  return { json: body, text };
}

export function membersTable(members: readonly JsonRecord[], leaderId: unknown): string {
  return formatTable(
    [
      { header: "NAME" },
      { header: "MEMBER ID", align: "right" },
      { header: "LEADER" },
      { header: "CLIENT URLS" },
      { header: "HTTP URLS" },
    ],
    members.map((member) => [
      display(member.name),
      display(member.member_id),
      leaderId !== undefined && member.member_id === leaderId ? "yes" : "no",
      display(member.client_urls),
      display(member.http_urls),
    ]),
  );
}
