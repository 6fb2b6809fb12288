// compose.yaml, validated offline: Debian's docker-compose (1.29) checks the file, and each Tessera
// service's command, with the image's environment, must load in that service's real config loader and
// agree with the health checks, grace periods, volumes and the addresses other services are given.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { asArray, asRecord, type JsonRecord } from "../../services/ctl/src/json-value.ts";
import { environmentOf, parseDockerfile } from "./support/dockerfile.ts";
import { REPOSITORY_ROOT, repositoryPath } from "./support/repository.ts";
import {
  hostOf,
  isServiceName,
  loadServiceSettings,
  portOf,
  type ServiceSettings,
} from "./support/service-settings.ts";
import { parseYamlDocuments } from "./support/yaml-documents.ts";

const COMPOSE_FILE = repositoryPath("compose.yaml");
const TESSERA_IMAGE = "tessera:latest";
/** Time past a service's own shutdown deadline before compose may SIGKILL it. */
const MINIMUM_STOP_MARGIN_MS = 5_000;

function dockerCompose(args: readonly string[]) {
  const run = spawnSync("docker-compose", ["-f", COMPOSE_FILE, ...args], {
    cwd: REPOSITORY_ROOT,
    encoding: "utf8",
  });
  if (run.error !== undefined) {
    assert.fail(
      `cannot run docker-compose (${run.error.message}); install Debian's docker-compose package ` +
        "(apt-get install docker-compose; `npm test` does so when run as root)",
    );
  }
  return run;
}

/** The file as docker-compose resolves it: anchors merged, defaults filled in. */
function resolvedServices(): ReadonlyMap<string, JsonRecord> {
  const run = dockerCompose(["config"]);
  assert.equal(run.status, 0, run.stderr);
  const [document] = parseYamlDocuments(run.stdout, "docker-compose config output");
  return new Map(
    Object.entries(asRecord(asRecord(document).services)).map(([name, value]) => [name, asRecord(value)]),
  );
}

const imageEnvironment = environmentOf(
  parseDockerfile(readFileSync(repositoryPath("Dockerfile"), "utf8")).at(-1)!,
);

interface TesseraService {
  readonly name: string;
  readonly definition: JsonRecord;
  readonly settings: ServiceSettings;
}

function tesseraServices(services: ReadonlyMap<string, JsonRecord>): TesseraService[] {
  return [...services]
    .filter(([, definition]) => definition.image === TESSERA_IMAGE)
    .map(([name, definition]) => {
      const [service, ...argv] = asArray(definition.command).map(String);
      assert.ok(isServiceName(service), `${name}: command starts with pd or store, got ${service}`);
      const environment = { ...imageEnvironment, ...stringRecord(definition.environment) };
      return { name, definition, settings: loadServiceSettings(service, argv, environment) };
    });
}

function stringRecord(value: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(asRecord(value)).map(([key, item]) => [key, String(item)]));
}

function durationMs(text: unknown): number {
  const match = /^(\d+)(ms|s|m)$/.exec(String(text));
  assert.ok(match, `duration "${String(text)}" is written like 40s`);
  return Number(match[1]) * { ms: 1, s: 1000, m: 60_000 }[match[2] as "ms" | "s" | "m"];
}

describe("compose.yaml", () => {
  const services = resolvedServices();
  // Loaded lazily, so a flag a service rejects fails the test that reports it rather than the whole file.
  let loaded: TesseraService[] | undefined;
  const tessera = (): TesseraService[] => {
    loaded ??= tesseraServices(services);
    return loaded;
  };
  const byRole = (role: ServiceSettings["service"]) =>
    tessera().filter((entry) => entry.settings.service === role);

  test("docker-compose config -q accepts it", () => {
    const run = dockerCompose(["config", "-q"]);
    assert.equal(run.status, 0, `docker-compose rejected compose.yaml:\n${run.stderr}`);
  });

  test("runs etcd, three pd members and three stores, each with a health check", () => {
    assert.ok(services.has("etcd"));
    assert.equal(byRole("pd").length, 3);
    assert.equal(byRole("store").length, 3);
    for (const [name, definition] of services) {
      assert.ok(asRecord(definition.healthcheck).test, `${name} has a health check`);
    }
  });

  test("each Tessera service's command and the image's environment load in that service's config", () => {
    assert.equal(tessera().length, 6);
  });

  test("health checks ask /health on the port each service's config listens on", () => {
    for (const { name, definition, settings } of tessera()) {
      const probe = asArray(asRecord(definition.healthcheck).test).join(" ");
      const url = /http:\/\/127\.0\.0\.1:(\d+)(\/\S*?)['"]/.exec(probe);
      assert.ok(url, `${name}: health check fetches a local URL (${probe})`);
      assert.equal(Number(url[1]), settings.httpPort, `${name}: health check port`);
      assert.equal(url[2], "/health", `${name}: health check path`);
    }
  });

  test("stop_grace_period outlasts each service's graceful shutdown deadline", () => {
    for (const { name, definition, settings } of tessera()) {
      const graceMs = durationMs(definition.stop_grace_period);
      assert.ok(
        graceMs >= settings.shutdownDeadlineMs + MINIMUM_STOP_MARGIN_MS,
        `${name}: stop_grace_period ${graceMs} ms vs shutdown deadline ${settings.shutdownDeadlineMs} ms`,
      );
    }
  });

  test("advertised addresses name the service itself on the ports it listens on", () => {
    for (const { name, settings } of tessera()) {
      for (const [address, port] of [
        [settings.advertisedGrpc, settings.grpcPort],
        [settings.advertisedHttp, settings.httpPort],
      ] as const) {
        assert.equal(hostOf(address), name, `${name}: advertises ${address}`);
        assert.equal(portOf(address), port, `${name}: advertises ${address}`);
      }
    }
  });

  test("stores know every pd member and pd members know etcd, at the ports those listen on", () => {
    const pdPorts = new Map(byRole("pd").map(({ name, settings }) => [name, settings.grpcPort]));
    for (const { name, settings } of byRole("store")) {
      const endpoints = settings.upstreamEndpoints;
      assert.deepEqual(endpoints.map(hostOf).sort(), [...pdPorts.keys()].sort(), `${name}: pd endpoints`);
      for (const endpoint of endpoints) assert.equal(portOf(endpoint), pdPorts.get(hostOf(endpoint)));
    }
    const etcdCommand = asArray(services.get("etcd")?.command).map(String);
    const etcdClientUrl = etcdCommand
      .find((arg) => arg.startsWith("--advertise-client-urls="))
      ?.split("=")[1];
    for (const { name, settings } of byRole("pd")) {
      assert.deepEqual(settings.upstreamEndpoints, [etcdClientUrl], `${name}: etcd endpoints`);
    }
  });

  test("pd waits for a healthy etcd and stores for healthy pd members", () => {
    for (const { name, definition, settings } of tessera()) {
      const dependencies = asRecord(definition.depends_on);
      const expected = settings.service === "pd" ? ["etcd"] : byRole("pd").map((entry) => entry.name);
      assert.deepEqual(Object.keys(dependencies).sort(), expected.sort(), `${name}: depends_on`);
      for (const dependency of Object.values(dependencies)) {
        assert.equal(asRecord(dependency).condition, "service_healthy", `${name}: waits for health`);
      }
    }
  });

  test("every store keeps its data directory on a named volume of its own", () => {
    const volumes = byRole("store").map(({ name, definition, settings }) => {
      const [mount] = asArray(definition.volumes).map(String);
      const [volume = "", target = ""] = mount?.split(":") ?? [];
      assert.ok(
        settings.dataDir.startsWith(`${target}/`),
        `${name}: data dir ${settings.dataDir} is on ${target}`,
      );
      return volume;
    });
    assert.equal(new Set(volumes).size, volumes.length, "no two stores share a volume");
  });
});
