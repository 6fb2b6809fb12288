/** `npm start` / `npm run ctl -- playground ...`: a local cluster on 127.0.0.1, like `tiup playground`. */
import type { CliIo } from "../../cli-io.ts";
import {
  DEFAULT_DATA_DIR,
  DEFAULT_PD_COUNT,
  DEFAULT_STORE_COUNT,
  MAX_PD_COUNT,
  MAX_STORE_COUNT,
  parsePlaygroundArguments,
} from "./playground-options.ts";
import { createPlaygroundOutput, type TerminalStream } from "./playground-output.ts";
import { startPlayground } from "./start-playground.ts";
import { stopPlayground } from "./stop-playground.ts";

export const PLAYGROUND_USAGE = `Usage: npm start -- [options]              (= npm run ctl -- playground [options])
       npm run ctl -- playground stop [--data-dir DIR]   (= npm start -- stop)

Starts pd and tikv-stores as separate processes on 127.0.0.1, waits until the cluster serves, prints the
endpoints, then runs in the foreground until Ctrl-C, which stops every process and exits 0.

Options:
  --stores N       stores to run, 1-${MAX_STORE_COUNT} [${DEFAULT_STORE_COUNT}]
  --pd N           pd members, 1-${MAX_PD_COUNT} [${DEFAULT_PD_COUNT}]; more than one runs a local etcd (needs etcd installed)
  --data-dir DIR   where data, logs and playground.json live [${DEFAULT_DATA_DIR}]; starting again
                   with the same directory keeps the data
  --detach         start in the background and exit; stop later with \`playground stop\`

Ports: each process takes its port from the last run in DIR, else the default (pd 2379 gRPC / 2378 HTTP,
stores 20160+i gRPC / 20180+i status, etcd 12379/12380), else any free port; the banner and
DIR/playground.json list the ports in use. Logs: DIR/logs/<member>.log.`;

export async function runPlaygroundCommand(
  argv: readonly string[],
  io: CliIo,
  terminal: TerminalStream = process.stdout,
): Promise<number> {
  const invocation = parsePlaygroundArguments(argv, process.cwd());
  const output = createPlaygroundOutput(io, terminal);
  switch (invocation.kind) {
    case "help":
      io.stdout(PLAYGROUND_USAGE);
      return 0;
    case "stop":
      return stopPlayground(invocation.dataDir, output);
    case "start":
      return startPlayground(invocation.options, output);
  }
}
