// Entry point of `npm start` (the playground) and `npm run ctl -- <command>`.
import { processIo } from "./cli-io.ts";
import { runCtl } from "./ctl.ts";

runCtl(process.argv.slice(2), processIo).then(
  (exitCode) => {
    process.exitCode = exitCode;
  },
  (error: unknown) => {
    process.stderr.write(
      `ctl: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
