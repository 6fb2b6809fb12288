/**
 * The deployment files against the services' real configuration loaders: a command line and environment
 * taken from compose.yaml, the Kubernetes manifests, the Dockerfile or the playground must load without
 * error (unknown keys and bad values are rejected there), and the loaded values give the ports and
 * shutdown deadlines the files must agree with.
 */
import { DEFAULT_SHUTDOWN_DEADLINE_MS, loadConfig } from "#runtime";
import { PD_ENV_PREFIX, pdConfigSchema } from "../../../services/pd/src/config.ts";
import { pdOptionsFromConfig } from "../../../services/pd/src/server/pd-server.ts";
import { STORE_ENV_PREFIX, storeConfigSchema } from "../../../services/tikv-store/src/config.ts";
import { storeOptionsFromConfig } from "../../../services/tikv-store/src/server/store-server.ts";

export type ServiceName = "pd" | "store";

/** What a deployment file has to agree with, derived from a loaded configuration. */
export interface ServiceSettings {
  readonly service: ServiceName;
  readonly grpcPort: number;
  /** pd's HTTP API / status port, or the store's status port: where /health and /status live. */
  readonly httpPort: number;
  /** host:port or URL other processes are told to use, "" when it is derived from the listen address. */
  readonly advertisedGrpc: string;
  readonly advertisedHttp: string;
  readonly shutdownDeadlineMs: number;
  readonly dataDir: string;
  /** pd: etcd endpoints; store: pd endpoints. */
  readonly upstreamEndpoints: readonly string[];
}

export function isServiceName(name: unknown): name is ServiceName {
  return name === "pd" || name === "store";
}

/** Throws the service's own ConfigError when a flag, variable or value is not accepted. */
export function loadServiceSettings(
  service: ServiceName,
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
): ServiceSettings {
  return service === "pd" ? pdSettings(argv, env) : storeSettings(argv, env);
}

function pdSettings(argv: readonly string[], env: Readonly<Record<string, string>>): ServiceSettings {
  const config = loadConfig(pdConfigSchema, { argv, env, envPrefix: PD_ENV_PREFIX });
  const options = pdOptionsFromConfig(config);
  return {
    service: "pd",
    grpcPort: options.clientPort,
    httpPort: options.httpPort,
    advertisedGrpc: options.advertiseClientUrl,
    advertisedHttp: options.advertiseHttpUrl,
    // pd's main() runs GracefulShutdown with its default deadline.
    shutdownDeadlineMs: DEFAULT_SHUTDOWN_DEADLINE_MS,
    dataDir: options.dataDir,
    upstreamEndpoints: options.etcdEndpoints,
  };
}

function storeSettings(argv: readonly string[], env: Readonly<Record<string, string>>): ServiceSettings {
  const config = loadConfig(storeConfigSchema, { argv, env, envPrefix: STORE_ENV_PREFIX });
  const options = storeOptionsFromConfig(config);
  return {
    service: "store",
    grpcPort: portOf(options.listenAddress),
    httpPort: portOf(options.statusListenAddress),
    advertisedGrpc: options.advertiseAddress,
    advertisedHttp: options.advertiseStatusAddress,
    shutdownDeadlineMs: config.shutdown.deadline,
    dataDir: options.dataDir,
    upstreamEndpoints: options.pdEndpoints,
  };
}

/** The port of `host:port` or of a URL; NaN when there is none. */
export function portOf(address: string): number {
  return Number(new URL(address.includes("://") ? address : `tcp://${address}`).port);
}

export function hostOf(address: string): string {
  return new URL(address.includes("://") ? address : `tcp://${address}`).hostname;
}
