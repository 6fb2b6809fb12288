/**
 * `npm run pd -- [--config pd.toml] [--flags]`: runs one pd member until SIGTERM/SIGINT.
 * `npm run pd -- --help` prints every setting with its default.
 */
import { createLogger } from "#observability";
import { ConfigError, describeConfig, GracefulShutdown, helpRequested, loadConfig } from "#runtime";
import { PD_ENV_PREFIX, pdConfigSchema } from "./config.ts";
import { pdOptionsFromConfig, startPd } from "./server/pd-server.ts";

const USAGE = `Usage: npm run pd -- [--config <file.toml>] [--<setting> <value> ...]

Runs one pd (placement driver) member: timestamps, ids, cluster metadata and scheduling.
Without etcd.endpoints it keeps metadata in data-dir and is the only member; with them, several
members elect a leader in etcd and followers redirect clients to it.
`;

async function main(argv: readonly string[]): Promise<void> {
  if (helpRequested(argv)) {
    process.stdout.write(`${USAGE}\n${describeConfig(pdConfigSchema, { envPrefix: PD_ENV_PREFIX })}\n`);
    return;
  }
  const config = loadConfig(pdConfigSchema, { argv, env: process.env, envPrefix: PD_ENV_PREFIX });
  const logger = createLogger({ component: "pd", level: config.log.level });
  const shutdown = new GracefulShutdown({ logger });
  shutdown.installSignalHandlers();
  const pd = await startPd({ ...pdOptionsFromConfig(config), logger });
  shutdown.register("pd", () => pd.close());
  // One line tools and tests can wait for: the addresses are final here even when a port was 0.
  logger.info(
    { clientUrl: pd.clientUrl, httpUrl: pd.httpUrl, clusterId: pd.clusterId, memberId: pd.member.memberId },
    "pd ready",
  );
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) process.stderr.write(`pd: ${error.message}\n`);
  else
    process.stderr.write(
      `pd: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  process.exit(1);
});
