// The Dockerfile, its entry script and .dockerignore, checked offline (no Docker engine exists here):
// the stages do what the image needs, every file it copies is in the build context, the entry script
// starts each service, the image's defaults load in the services' configs, and every package the
// services import at run time survives `npm ci --omit=dev`.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import {
  environmentOf,
  execForm,
  instructions,
  isIgnored,
  parseDockerfile,
  type Stage,
} from "./support/dockerfile.ts";
import { REPOSITORY_ROOT, repositoryPath } from "./support/repository.ts";
import { runtimePackages } from "./support/runtime-imports.ts";
import { loadServiceSettings } from "./support/service-settings.ts";

const BASE_IMAGE = "node:20-bookworm-slim";
const ENTRY_SCRIPT = "scripts/docker-entrypoint.sh";
const SERVICE_ENTRY_POINTS = {
  pd: "services/pd/src/main.ts",
  store: "services/tikv-store/src/main.ts",
  ctl: "services/ctl/src/main.ts",
} as const;

const stages = parseDockerfile(readFileSync(repositoryPath("Dockerfile"), "utf8"));
const dockerignore = readFileSync(repositoryPath(".dockerignore"), "utf8");
const runtime = stages.at(-1)!;

function stageNamed(name: string): Stage {
  const stage = stages.find((candidate) => candidate.name === name);
  assert.ok(stage, `the Dockerfile has a stage named ${name}`);
  return stage;
}

function runEntryScript(args: readonly string[]) {
  return spawnSync(repositoryPath(ENTRY_SCRIPT), args, {
    encoding: "utf8",
    env: { ...process.env, TESSERA_HOME: REPOSITORY_ROOT },
  });
}

describe("Dockerfile", () => {
  test("builds on node:20-bookworm-slim: dependencies and generated code in one stage, production only in the other", () => {
    assert.deepEqual(
      stages.map((stage) => stage.baseImage),
      [BASE_IMAGE, BASE_IMAGE],
    );
    const build = stageNamed("build");
    assert.ok(instructions(build, "RUN").some((command) => /\bnpm ci\b(?!.*--omit=dev)/.test(command)));
    assert.ok(instructions(build, "RUN").some((command) => command.includes("npm run gen")));
    assert.ok(instructions(runtime, "RUN").some((command) => /\bnpm ci\b.*--omit=dev/.test(command)));
    assert.ok(
      instructions(runtime, "COPY").includes(
        "--from=build /app/services/libs/proto/gen ./services/libs/proto/gen",
      ),
      "the runtime stage copies the generated protocol code from the build stage",
    );
  });

  test("runs as a non-root numeric user, through the entry script", () => {
    const user = instructions(runtime, "USER").at(-1);
    assert.match(
      user ?? "",
      /^[1-9]\d*(:\d+)?$/,
      "USER is a numeric non-zero uid (Kubernetes' runAsNonRoot checks it)",
    );
    const [entrypoint] = execForm(instructions(runtime, "ENTRYPOINT").at(-1) ?? "[]");
    assert.ok(
      instructions(runtime, "COPY").includes(`${ENTRY_SCRIPT} /usr/local/bin/${entrypoint}`),
      `ENTRYPOINT ${entrypoint} is the entry script copied onto the PATH`,
    );
  });

  test("copies only files that exist and that .dockerignore keeps in the build context", () => {
    const sources = stages.flatMap((stage) =>
      instructions(stage, "COPY")
        .filter((copy) => !copy.startsWith("--from="))
        .flatMap((copy) => copy.split(/\s+/).slice(0, -1)),
    );
    assert.ok(sources.length >= 6);
    for (const source of sources) {
      assert.ok(existsSync(repositoryPath(source)), `COPY source ${source} exists`);
      assert.equal(isIgnored(source, dockerignore), false, `.dockerignore excludes COPY source ${source}`);
    }
    for (const entryPoint of Object.values(SERVICE_ENTRY_POINTS)) {
      assert.equal(isIgnored(entryPoint, dockerignore), false, `${entryPoint} reaches the image`);
    }
    for (const excluded of ["node_modules", "services/libs/proto/gen", "services/pd/src/config.test.ts"]) {
      assert.equal(isIgnored(excluded, dockerignore), true, `${excluded} stays out of the build context`);
    }
  });

  test("its environment defaults load in the services' configs and match the exposed ports", () => {
    const environment = environmentOf(runtime);
    const pd = loadServiceSettings("pd", [], environment);
    const store = loadServiceSettings("store", [], environment);
    const exposed = instructions(runtime, "EXPOSE")
      .flatMap((line) => line.split(/\s+/))
      .map(Number)
      .sort();
    assert.deepEqual(exposed, [pd.grpcPort, pd.httpPort, store.grpcPort, store.httpPort].sort());
    for (const dataDir of [pd.dataDir, store.dataDir]) assert.match(dataDir, /^\/var\/lib\/tessera\//);
    assert.equal(environment.TESSERA_PD_LISTEN_HOST, "0.0.0.0");
  });

  test("every package the services import at run time is a production dependency", () => {
    const manifest = JSON.parse(readFileSync(repositoryPath("package.json"), "utf8")) as {
      readonly dependencies: Readonly<Record<string, string>>;
    };
    const imported = runtimePackages(REPOSITORY_ROOT, Object.values(SERVICE_ENTRY_POINTS));
    assert.ok(
      imported.some((entry) => entry.name === "@grpc/grpc-js"),
      "the import walk reaches the gRPC servers",
    );
    for (const { name, importedBy } of imported) {
      assert.ok(
        name in manifest.dependencies,
        `${importedBy} imports ${name}, which is not in "dependencies"`,
      );
    }
    assert.ok("tsx" in manifest.dependencies, "the entry script runs services through tsx");
  });
});

describe("docker entry script", () => {
  for (const [service, entryPoint] of Object.entries(SERVICE_ENTRY_POINTS)) {
    test(`${service} runs ${entryPoint}`, () => {
      const run = runEntryScript([service, "--help"]);
      assert.equal(run.status, 0, run.stderr);
      const npmScript = service === "store" ? "store" : service;
      assert.match(run.stdout, new RegExp(`^Usage: npm run ${npmScript} -- `));
    });
  }

  test("an unknown service prints the usage and exits 2", () => {
    const run = runEntryScript(["gateway"]);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /unknown service "gateway"/);
    assert.match(run.stderr, /pd\s+placement driver/);
  });
});
