/**
 * Typed access to the BatchCommands `cmd` oneof: build a request for one command and take the matching
 * response out, so callers never handle the whole union or forget to check which case came back.
 */
import type { tikvpb } from "#proto";
import { RpcProtocolError } from "./rpc-errors.ts";

type RequestCommand = NonNullable<tikvpb.BatchCommandsRequest_Request["cmd"]>;
type ResponseCommand = NonNullable<tikvpb.BatchCommandsResponse_Response["cmd"]>;

export type CommandCase = RequestCommand["$case"];
export type CommandRequest<Case extends CommandCase> = Extract<RequestCommand, { $case: Case }>["value"];
export type CommandResponse<Case extends CommandCase> = Extract<ResponseCommand, { $case: Case }>["value"];

export function commandRequest<Case extends CommandCase>(
  command: Case,
  value: CommandRequest<Case>,
): tikvpb.BatchCommandsRequest_Request {
  // TypeScript cannot relate a generic case to its member of the union; the pair is built from one Case.
  return { cmd: { $case: command, value } as RequestCommand };
}

/** The answer to `command`, or RpcProtocolError when the store answered another command (or none). */
export function commandResponse<Case extends CommandCase>(
  address: string,
  command: Case,
  response: tikvpb.BatchCommandsResponse_Response,
): CommandResponse<Case> {
  const answered = response.cmd;
  if (answered === undefined || answered.$case !== command) {
    throw new RpcProtocolError(address, `answered ${answered?.$case ?? "nothing"} to a ${command} request`);
  }
  return answered.value as CommandResponse<Case>;
}
