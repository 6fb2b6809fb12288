/** `kv get|put|delete|scan`: raw key-value data through the storage client, as an application sees it. */
import type { RawKvClient } from "#client";
import type { CliIo } from "../../cli-io.ts";
import { formatTable } from "../../table.ts";
import { COMMON_OPTIONS, parseCommandLine, pdHttpClient, printResult } from "../command-line.ts";
import type { CommandResult } from "../command-result.ts";
import { textFromBytes } from "../key-format.ts";
import { CTL_USAGE } from "../usage.ts";
import { type KvFormats, type KvRequest, parseKvFormats, parseKvRequest } from "./kv-request.ts";
import { withRawKvClient } from "./raw-kv-session.ts";

const OPTIONS = {
  ...COMMON_OPTIONS,
  start: { type: "string" },
  end: { type: "string" },
  limit: { type: "string" },
  reverse: { type: "boolean", default: false },
  "key-format": { type: "string" },
  "value-format": { type: "string" },
} as const;

/** `argv` follows `kv`; returns the exit code. */
export async function runKvCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (values.help || positionals[0] === "help") {
    io.stdout(CTL_USAGE);
    return 0;
  }
  const flags = {
    ...values,
    keyFormat: values["key-format"],
    valueFormat: values["value-format"],
  };
  const formats = parseKvFormats(flags);
  const request = parseKvRequest(positionals, flags, formats);
  const http = pdHttpClient(values.pd, io);
  const result = await withRawKvClient(http, `kv ${request.kind}`, (client) =>
    runKvRequest(client, request, formats),
  );
  return printResult(result, values.json, io);
}

export async function runKvRequest(
  client: RawKvClient,
  request: KvRequest,
  formats: KvFormats,
): Promise<CommandResult> {
  const keyText = (key: Uint8Array) => textFromBytes(key, formats.key, "--key-format");
  const valueText = (value: Uint8Array) => textFromBytes(value, formats.value, "--value-format");
  switch (request.kind) {
    case "get": {
      const value = await client.get(request.key);
      const key = keyText(request.key);
      if (value === undefined) return { json: { key, found: false }, text: "(not found)", exitCode: 1 };
      return { json: { key, found: true, value: valueText(value) }, text: valueText(value) };
    }
    case "put":
      await client.put(request.key, request.value);
      return { json: { key: keyText(request.key), written: true }, text: "OK" };
    case "delete":
      await client.delete(request.key);
      return { json: { key: keyText(request.key), deleted: true }, text: "OK" };
    case "scan": {
      const pairs = await client.scan(request.startKey, request.endKey, request.limit, {
        reverse: request.reverse,
      });
      const rows = pairs.map((pair) => [keyText(pair.key), valueText(pair.value)] as const);
      const json = { count: rows.length, pairs: rows.map(([key, value]) => ({ key, value })) };
      const text = `${formatTable([{ header: "KEY" }, { header: "VALUE" }], rows)}\n${rows.length} pairs`;
      return { json, text };
    }
  }
}
