/** What the playground prints once it is up: endpoints, log files, how to use it and how to stop it. */
import { formatTable } from "../../table.ts";
import type { MemberState, PlaygroundState } from "./state-file.ts";

export function stopCommand(dataDir: string): string {
  return `npm run ctl -- playground stop --data-dir ${shellQuote(dataDir)}`;
}

export function formatBanner(state: PlaygroundState, dataDir: string): string {
  const pd = state.members.filter((member) => member.role === "pd");
  const pdHttp = pd[0]?.httpUrl ?? "";
  const pdClients = pd.map((member) => member.endpoint).join(",");
  const stop = state.detached
    ? `Running in the background. Stop it with:\n  ${stopCommand(dataDir)}`
    : `Press Ctrl-C to stop (or, from another terminal: ${stopCommand(dataDir)}).`;
  return [
    `Tessera playground is ready (${countOf(state, "pd")} pd, ${countOf(state, "store")} stores; data in ${dataDir})`,
    "",
    indent(membersTable(state.members)),
    "",
    "Logs:",
    ...state.members.map((member) => `  ${member.logPath}`),
    "",
    "Try:",
    `  npm run ctl -- pd store list --pd ${pdHttp}`,
    `  npm run ctl -- pd region list --pd ${pdHttp}`,
    `  npm run ctl -- pd tso --pd ${pdHttp}`,
    `  clients (#client's PdClient, RawKvClient) take the pd endpoints ${pdClients}`,
    "",
    stop,
  ].join("\n");
}

function membersTable(members: readonly MemberState[]): string {
  return formatTable(
    [{ header: "NAME" }, { header: "GRPC" }, { header: "HTTP" }, { header: "PID", align: "right" }],
    members.map((member) => [
      member.name,
      member.role === "etcd" ? "-" : member.endpoint,
      member.httpUrl,
      member.pid === null ? "-" : String(member.pid),
    ]),
  );
}

function countOf(state: PlaygroundState, role: MemberState["role"]): number {
  return state.members.filter((member) => member.role === role).length;
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
}

/** Paths with spaces or quotes still paste into a shell as one argument. */
function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}
