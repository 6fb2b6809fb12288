/**
 * `npm run pd -- [--config pd.toml] [--flags]`: runs one pd member until SIGTERM/SIGINT.
 * `npm run pd -- --help` prints every setting with its default.
 *
 * Only observability and runtime are imported statically: the gRPC instrumentation must be installed
 * before anything loads @grpc/grpc-js, and the config module already does (through the protocol code),
 * so everything else is loaded with `import()` after it (see tracing.ts in services/libs/observability).
 */
import { createLogger, instrumentGrpc, startTracing, tracingOptionsFromConfig } from "#observability";
import { ConfigError, describeConfig, GracefulShutdown, helpRequested, loadConfig } from "#runtime";

const USAGE = `Usage: npm run pd -- [--config <file.toml>] [--<setting> <value> ...]

Runs one pd (placement driver) member: timestamps, ids, cluster metadata and scheduling.
Without etcd.endpoints it keeps metadata in data-dir and is the only member; with them, several
members elect a leader in etcd and followers redirect clients to it.
`;

async function main(argv: readonly string[]): Promise<void> {
  await instrumentGrpc();
  const { PD_ENV_PREFIX, pdConfigSchema } = await import("./config.ts");
  if (helpRequested(argv)) {
    process.stdout.write(`${USAGE}\n${describeConfig(pdConfigSchema, { envPrefix: PD_ENV_PREFIX })}\n`);
    return;
  }
  const config = loadConfig(pdConfigSchema, { argv, env: process.env, envPrefix: PD_ENV_PREFIX });
  const logger = createLogger({ component: "pd", level: config.log.level });
  const shutdown = new GracefulShutdown({ logger });
  shutdown.installSignalHandlers();
  const tracing = await startTracing({
    ...tracingOptionsFromConfig(config.tracing, { serviceName: "pd", dataDir: config.dataDir }),
    logger,
  });
  // Registered first, so it runs last: spans of the shutdown itself are exported too.
  shutdown.register("tracing", () => tracing.shutdown());
  if (tracing.enabled && !tracing.grpcInstrumented)
    logger.warn("grpc-js loaded before tracing: no gRPC spans");
  const { pdOptionsFromConfig, startPd } = await import("./server/pd-server.ts");
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
