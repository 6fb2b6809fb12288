/**
 * `npm run store -- [--config store.toml] [--flags]`: runs one tikv-store until SIGTERM/SIGINT.
 * `npm run store -- --help` prints every setting with its default.
 *
 * SIGTERM is a graceful shutdown (Kubernetes' preStop): the store tells pd it is stopping, moves its
 * region leaders to other stores (bounded by shutdown.leader-transfer-timeout), stops accepting
 * requests, closes its streams and engines, and exits 0.
 *
 * Only observability and runtime are imported statically: the gRPC instrumentation must be installed
 * before anything loads @grpc/grpc-js, so everything else is loaded with `import()` after it (see
 * tracing.ts in services/libs/observability).
 */
import { createLogger, instrumentGrpc, startTracing, tracingOptionsFromConfig } from "#observability";
import { ConfigError, describeConfig, GracefulShutdown, helpRequested, loadConfig } from "#runtime";

const USAGE = `Usage: npm run store -- [--config <file.toml>] [--<setting> <value> ...]

Runs one tikv-store: multi-raft replicated key-value storage on RocksDB, serving the tikvpb.Tikv gRPC
service on server.addr and status HTTP (/status, /metrics, /health) on server.status-addr. It registers
with the pd cluster at pd.endpoints; the first store of a new cluster bootstraps it.
`;

async function main(argv: readonly string[]): Promise<void> {
  await instrumentGrpc();
  const { STORE_ENV_PREFIX, storeConfigSchema } = await import("./config.ts");
  if (helpRequested(argv)) {
    process.stdout.write(`${USAGE}\n${describeConfig(storeConfigSchema, { envPrefix: STORE_ENV_PREFIX })}\n`);
    return;
  }
  const config = loadConfig(storeConfigSchema, { argv, env: process.env, envPrefix: STORE_ENV_PREFIX });
  const logger = createLogger({ component: "tikv-store", level: config.log.level });
  const shutdown = new GracefulShutdown({ logger, deadlineMs: config.shutdown.deadline });
  shutdown.installSignalHandlers();
  const tracing = await startTracing({
    ...tracingOptionsFromConfig(config.tracing, { serviceName: "tikv-store", dataDir: config.dataDir }),
    logger,
  });
  // Registered first, so it runs last: spans of the shutdown itself are exported too.
  shutdown.register("tracing", () => tracing.shutdown());
  if (tracing.enabled && !tracing.grpcInstrumented)
    logger.warn("grpc-js loaded before tracing: no gRPC spans");
  const { startStore, storeOptionsFromConfig } = await import("./server/store-server.ts");
  const store = await startStore({ ...storeOptionsFromConfig(config), logger });
  shutdown.register("store", () => store.close());
  // One line tools and tests can wait for: the addresses are final here even when a port was 0.
  logger.info(
    { storeId: store.storeId, address: store.address, statusAddress: store.statusAddress },
    "store ready",
  );
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) process.stderr.write(`store: ${error.message}\n`);
  else
    process.stderr.write(
      `store: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  process.exit(1);
});
