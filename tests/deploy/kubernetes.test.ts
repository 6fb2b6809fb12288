// The Kubernetes manifests in k8s/, validated offline: every object against the Kubernetes schema
// (kubernetes-models), then each Tessera container's arguments and environment, as the pod would see
// them, against the services' real config loaders, and the probes, ports, Services, disruption budgets
// and grace periods against what those configs say.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { StatefulSet } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Namespace, Service } from "kubernetes-models/v1";
import { asArray, asRecord, type JsonRecord } from "../../services/ctl/src/json-value.ts";
import { environmentOf, instructions, parseDockerfile } from "./support/dockerfile.ts";
import { repositoryPath } from "./support/repository.ts";
import {
  hostOf,
  isServiceName,
  loadServiceSettings,
  portOf,
  type ServiceSettings,
} from "./support/service-settings.ts";
import { readYamlDocuments } from "./support/yaml-documents.ts";

const K8S_DIRECTORY = repositoryPath("k8s");
const KUSTOMIZATION = "kustomization.yaml";
const TESSERA_IMAGE_NAME = "tessera";
const MINIMUM_STOP_MARGIN_MS = 5_000;

/** Validates one object against its schema; throws with the schema's complaint. */
const MODELS: Readonly<Record<string, (object: JsonRecord) => void>> = {
  "v1/Namespace": (object) => new Namespace(object as never).validate(),
  "v1/Service": (object) => new Service(object as never).validate(),
  "apps/v1/StatefulSet": (object) => new StatefulSet(object as never).validate(),
  "policy/v1/PodDisruptionBudget": (object) => new PodDisruptionBudget(object as never).validate(),
};

interface Manifest {
  readonly file: string;
  readonly object: JsonRecord;
}

const manifestFiles = readdirSync(K8S_DIRECTORY)
  .filter((file) => file.endsWith(".yaml") && file !== KUSTOMIZATION)
  .sort();
const manifests: readonly Manifest[] = manifestFiles.flatMap((file) =>
  readYamlDocuments(`${K8S_DIRECTORY}/${file}`).map((object) => ({ file, object: asRecord(object) })),
);
const runtimeStage = parseDockerfile(readFileSync(repositoryPath("Dockerfile"), "utf8")).at(-1)!;

function objectsOf(kind: string): readonly JsonRecord[] {
  return manifests.filter((manifest) => manifest.object.kind === kind).map((manifest) => manifest.object);
}

function nameOf(object: JsonRecord): string {
  return String(asRecord(object.metadata).name);
}

function podSpecOf(statefulSet: JsonRecord): JsonRecord {
  return asRecord(asRecord(asRecord(statefulSet.spec).template).spec);
}

function podLabelsOf(statefulSet: JsonRecord): JsonRecord {
  return asRecord(asRecord(asRecord(asRecord(statefulSet.spec).template).metadata).labels);
}

function containersOf(statefulSet: JsonRecord): readonly JsonRecord[] {
  return asArray(podSpecOf(statefulSet).containers).map(asRecord);
}

function selects(selector: unknown, labels: JsonRecord): boolean {
  const wanted = Object.entries(asRecord(selector));
  return wanted.length > 0 && wanted.every(([key, value]) => labels[key] === value);
}

/** The environment the first pod of `statefulSet` gets: fieldRefs filled in, $(VAR) references expanded. */
function podEnvironment(statefulSet: JsonRecord, container: JsonRecord): Record<string, string> {
  const podName = `${nameOf(statefulSet)}-0`;
  const environment: Record<string, string> = {};
  for (const entry of asArray(container.env).map(asRecord)) {
    const fieldPath = asRecord(asRecord(asRecord(entry.valueFrom).fieldRef)).fieldPath;
    if (fieldPath !== undefined) {
      assert.equal(fieldPath, "metadata.name", `only the pod name is taken from the downward API`);
      environment[String(entry.name)] = podName;
    } else {
      environment[String(entry.name)] = expand(String(entry.value), environment);
    }
  }
  return environment;
}

/** Kubernetes' $(VAR) expansion: only variables defined earlier are replaced. */
function expand(text: string, environment: Readonly<Record<string, string>>): string {
  return text.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => environment[name] ?? whole);
}

/** A probe's or Service's port (a number or a container port name) as a number. */
function resolvePort(container: JsonRecord, port: unknown): number {
  if (typeof port === "number") return port;
  const named = asArray(container.ports)
    .map(asRecord)
    .find((candidate) => candidate.name === port);
  assert.ok(named, `container ${String(container.name)} has a port named ${String(port)}`);
  return Number(named.containerPort);
}

function preStopMs(container: JsonRecord): number {
  const preStop = asRecord(asRecord(container.lifecycle).preStop);
  if (Object.keys(preStop).length === 0) return 0;
  const command = asArray(asRecord(preStop.exec).command).map(String);
  assert.equal(
    command[0],
    "sleep",
    `the preStop hook of ${String(container.name)} is a sleep whose length is known`,
  );
  return Number(command[1]) * 1000;
}

interface TesseraPod {
  readonly statefulSet: JsonRecord;
  readonly container: JsonRecord;
  readonly podName: string;
  readonly settings: ServiceSettings;
}

function tesseraPods(): TesseraPod[] {
  return objectsOf("StatefulSet").flatMap((statefulSet) =>
    containersOf(statefulSet)
      .filter((container) => String(container.image).split(":")[0] === TESSERA_IMAGE_NAME)
      .map((container) => {
        const environment = podEnvironment(statefulSet, container);
        const [service, ...argv] = asArray(container.args).map((arg) => expand(String(arg), environment));
        assert.ok(
          isServiceName(service),
          `${nameOf(statefulSet)}: args start with pd or store, got ${service}`,
        );
        assert.equal(container.command, undefined, "the image's entry point selects the service");
        const settings = loadServiceSettings(service, argv, {
          ...environmentOf(runtimeStage),
          ...environment,
        });
        return { statefulSet, container, podName: `${nameOf(statefulSet)}-0`, settings };
      }),
  );
}

describe("Kubernetes manifests", () => {
  let loaded: TesseraPod[] | undefined;
  const pods = (): TesseraPod[] => {
    loaded ??= tesseraPods();
    return loaded;
  };
  const podFor = (service: ServiceSettings["service"]): TesseraPod => {
    const pod = pods().find((candidate) => candidate.settings.service === service);
    assert.ok(pod, `a StatefulSet runs ${service}`);
    return pod;
  };

  test("every object validates against the Kubernetes schema", () => {
    assert.ok(manifests.length >= 10);
    for (const { file, object } of manifests) {
      const validate = MODELS[`${String(object.apiVersion)}/${String(object.kind)}`];
      assert.ok(validate, `${file}: no schema check for ${String(object.apiVersion)} ${String(object.kind)}`);
      validate(object);
    }
  });

  test("the schema check rejects a malformed object", () => {
    const statefulSet = structuredClone(objectsOf("StatefulSet")[0]!) as Record<string, unknown>;
    (statefulSet.spec as Record<string, unknown>).replicas = "three";
    assert.throws(() => MODELS["apps/v1/StatefulSet"]!(statefulSet), /replicas/);
  });

  test("kustomization.yaml lists every manifest and renames the Tessera image", () => {
    const [kustomization] = readYamlDocuments(`${K8S_DIRECTORY}/${KUSTOMIZATION}`).map(asRecord);
    assert.deepEqual(asArray(kustomization?.resources).map(String).sort(), manifestFiles);
    assert.ok(asArray(kustomization?.images).some((image) => asRecord(image).name === TESSERA_IMAGE_NAME));
    const namespace = objectsOf("Namespace").map(nameOf);
    assert.deepEqual(namespace, [kustomization?.namespace]);
  });

  test("pd, tikv-store and etcd run as three-replica StatefulSets with headless Services and disruption budgets", () => {
    const statefulSets = objectsOf("StatefulSet");
    assert.deepEqual(statefulSets.map(nameOf).sort(), ["etcd", "pd", "tikv-store"]);
    for (const statefulSet of statefulSets) {
      const spec = asRecord(statefulSet.spec);
      assert.equal(spec.replicas, 3, `${nameOf(statefulSet)}: replicas`);
      const headless = objectsOf("Service").find((service) => nameOf(service) === spec.serviceName);
      assert.ok(headless, `${nameOf(statefulSet)}: Service ${String(spec.serviceName)} exists`);
      assert.equal(
        asRecord(headless.spec).clusterIP,
        "None",
        `${nameOf(statefulSet)}: its Service is headless`,
      );
      assert.ok(selects(asRecord(headless.spec).selector, podLabelsOf(statefulSet)));
      const budgets = objectsOf("PodDisruptionBudget").filter((budget) =>
        selects(asRecord(asRecord(budget.spec).selector).matchLabels, podLabelsOf(statefulSet)),
      );
      assert.equal(budgets.length, 1, `${nameOf(statefulSet)}: one PodDisruptionBudget`);
      assert.equal(asRecord(budgets[0]!.spec).maxUnavailable, 1);
    }
  });

  test("every Service targets container ports that exist", () => {
    for (const service of objectsOf("Service")) {
      const spec = asRecord(service.spec);
      const statefulSet = objectsOf("StatefulSet").find((candidate) =>
        selects(spec.selector, podLabelsOf(candidate)),
      );
      assert.ok(statefulSet, `Service ${nameOf(service)} selects a StatefulSet's pods`);
      for (const port of asArray(spec.ports).map(asRecord)) {
        const target = containersOf(statefulSet).map((container) => resolvePort(container, port.targetPort));
        assert.ok(target.includes(Number(port.port)), `Service ${nameOf(service)} port ${String(port.name)}`);
      }
    }
  });

  test("every container requests CPU and memory and has a memory limit", () => {
    for (const statefulSet of objectsOf("StatefulSet")) {
      for (const container of containersOf(statefulSet)) {
        const resources = asRecord(container.resources);
        assert.ok(asRecord(resources.requests).cpu, `${String(container.name)}: cpu request`);
        assert.ok(asRecord(resources.requests).memory, `${String(container.name)}: memory request`);
        assert.ok(asRecord(resources.limits).memory, `${String(container.name)}: memory limit`);
      }
    }
  });

  test("Tessera containers' arguments and environment load in their services' configs", () => {
    assert.deepEqual(
      pods()
        .map((pod) => pod.settings.service)
        .sort(),
      ["pd", "store"],
    );
  });

  test("container ports and probes use the ports the configs listen on", () => {
    for (const { container, podName, settings } of pods()) {
      const containerPorts = asArray(container.ports).map((port) => Number(asRecord(port).containerPort));
      assert.ok(
        containerPorts.includes(settings.grpcPort),
        `${podName}: gRPC port ${settings.grpcPort} declared`,
      );
      assert.ok(
        containerPorts.includes(settings.httpPort),
        `${podName}: HTTP port ${settings.httpPort} declared`,
      );
      const readiness = asRecord(asRecord(container.readinessProbe).httpGet);
      assert.equal(readiness.path, "/health", `${podName}: readiness asks /health`);
      assert.equal(resolvePort(container, readiness.port), settings.httpPort, `${podName}: readiness port`);
      const liveness = asRecord(asRecord(container.livenessProbe).httpGet);
      assert.equal(resolvePort(container, liveness.port), settings.httpPort, `${podName}: liveness port`);
    }
  });

  test("terminationGracePeriodSeconds covers preStop plus the graceful shutdown deadline", () => {
    for (const { statefulSet, container, podName, settings } of pods()) {
      const graceMs = Number(podSpecOf(statefulSet).terminationGracePeriodSeconds) * 1000;
      const neededMs = preStopMs(container) + settings.shutdownDeadlineMs + MINIMUM_STOP_MARGIN_MS;
      assert.ok(graceMs >= neededMs, `${podName}: grace ${graceMs} ms, needs at least ${neededMs} ms`);
    }
  });

  test("members advertise their pod DNS names on the ports they listen on", () => {
    for (const { statefulSet, podName, settings } of pods()) {
      const dnsName = `${podName}.${String(asRecord(statefulSet.spec).serviceName)}`;
      for (const [address, port] of [
        [settings.advertisedGrpc, settings.grpcPort],
        [settings.advertisedHttp, settings.httpPort],
      ] as const) {
        assert.equal(hostOf(address), dnsName, `${podName}: advertises ${address}`);
        assert.equal(portOf(address), port, `${podName}: advertises ${address}`);
      }
    }
  });

  test("stores are given every pd pod and pd every etcd pod, at the ports those listen on", () => {
    const pd = podFor("pd");
    const etcd = objectsOf("StatefulSet").find((statefulSet) => nameOf(statefulSet) === "etcd")!;
    const etcdClientPort = resolvePort(containersOf(etcd)[0]!, "client");
    assert.deepEqual(pd.settings.upstreamEndpoints, podAddresses(etcd, etcdClientPort, "http://"));
    assert.deepEqual(
      podFor("store").settings.upstreamEndpoints,
      podAddresses(pd.statefulSet, pd.settings.grpcPort, ""),
    );
  });

  test("the store's data directory is on its persistent volume and pods run as the image's user", () => {
    const store = podFor("store");
    const claims = asArray(asRecord(store.statefulSet.spec).volumeClaimTemplates).map((claim) =>
      nameOf(asRecord(claim)),
    );
    const dataMount = asArray(store.container.volumeMounts)
      .map(asRecord)
      .find((mount) => store.settings.dataDir.startsWith(`${String(mount.mountPath)}/`));
    assert.ok(
      dataMount && claims.includes(String(dataMount.name)),
      "the data directory is on a volumeClaimTemplate",
    );
    const imageUser = Number(instructions(runtimeStage, "USER").at(-1)?.split(":")[0]);
    for (const { statefulSet, podName } of pods()) {
      const security = asRecord(podSpecOf(statefulSet).securityContext);
      assert.equal(security.runAsNonRoot, true, `${podName}: runAsNonRoot`);
      assert.equal(security.runAsUser, imageUser, `${podName}: runs as the image's uid`);
    }
  });
});

/** `<scheme><name>-<i>.<service>:<port>` for every replica of `statefulSet`. */
function podAddresses(statefulSet: JsonRecord, port: number, scheme: string): string[] {
  const spec = asRecord(statefulSet.spec);
  return Array.from(
    { length: Number(spec.replicas) },
    (_, index) => `${scheme}${nameOf(statefulSet)}-${index}.${String(spec.serviceName)}:${port}`,
  );
}
