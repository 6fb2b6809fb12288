import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { describeConfig, helpRequested, loadConfig } from "./config.ts";
import { ConfigError } from "./config-error.ts";
import { type ConfigSchema, defineConfigSchema } from "./config-schema.ts";
import { parseDurationMs, parseSizeBytes } from "./config-values.ts";

const schema = defineConfigSchema({
  name: { type: "string", default: "pd-1", doc: "Member name." },
  "data-dir": { type: "string", default: "data", doc: "Where state is kept." },
  "raftstore.election-timeout-ticks": { type: "int", default: 10, min: 1, doc: "Ticks before campaigning." },
  "raftstore.raft-base-tick-interval": { type: "duration", default: "100ms", doc: "One raft tick." },
  "raftstore.region-split-size": { type: "size", default: "96MiB", doc: "Split threshold." },
  "raftstore.pre-vote": { type: "bool", default: true, doc: "Pre-vote before elections." },
  "schedule.leader-schedule-ratio": { type: "number", default: 0.5, max: 1, doc: "Share of leader moves." },
  "storage.engine": {
    type: "enum",
    values: ["embedded", "etcd"],
    default: "embedded",
    doc: "Metadata store.",
  },
  "storage.etcd.endpoints": { type: "string-list", default: [], doc: "etcd client URLs." },
});

const ENV_PREFIX = "TESSERA_PD_";
const directory = mkdtempSync(join(tmpdir(), "tessera-config-"));
after(() => rmSync(directory, { recursive: true, force: true }));

let fileCounter = 0;
function writeToml(contents: string): string {
  const path = join(directory, `config-${fileCounter++}.toml`);
  writeFileSync(path, contents);
  return path;
}

function expectConfigError(load: () => unknown, messageParts: readonly string[]): ConfigError {
  let caught: unknown;
  try {
    load();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  for (const part of messageParts)
    assert.ok(caught.message.includes(part), `"${caught.message}" lacks "${part}"`);
  return caught;
}

describe("loadConfig", () => {
  it("returns the typed defaults as a nested camelCase object", () => {
    const config = loadConfig(schema);
    const ticks: number = config.raftstore.electionTimeoutTicks;
    const engine: "embedded" | "etcd" = config.storage.engine;
    assert.equal(ticks, 10);
    assert.equal(engine, "embedded");
    assert.equal(config.name, "pd-1");
    assert.equal(config.dataDir, "data");
    assert.equal(config.raftstore.raftBaseTickInterval, 100);
    assert.equal(config.raftstore.regionSplitSize, 96 * 1024 * 1024);
    assert.equal(config.raftstore.preVote, true);
    assert.equal(config.schedule.leaderScheduleRatio, 0.5);
    assert.deepEqual(config.storage.etcd.endpoints, []);
  });

  it("freezes the result deeply", () => {
    const config = loadConfig(schema, { argv: ["--storage.etcd.endpoints=a,b"] });
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.raftstore));
    assert.ok(Object.isFrozen(config.storage.etcd.endpoints));
  });

  it("applies flags over env over file over defaults", () => {
    const path = writeToml(
      `name = "from-file"\ndata-dir = "file-dir"\n[raftstore]\nelection-timeout-ticks = 20\n`,
    );
    const config = loadConfig(schema, {
      argv: ["--config", path, "--name=from-flag"],
      env: { TESSERA_PD_NAME: "from-env", TESSERA_PD_DATA_DIR: "env-dir", UNRELATED: "x" },
      envPrefix: ENV_PREFIX,
    });
    assert.equal(config.name, "from-flag");
    assert.equal(config.dataDir, "env-dir");
    assert.equal(config.raftstore.electionTimeoutTicks, 20);
    assert.equal(config.raftstore.raftBaseTickInterval, 100);
  });

  it("uses options.filePath unless --config names another file", () => {
    const optionFile = writeToml(`name = "option-file"\n`);
    const flagFile = writeToml(`name = "flag-file"\n`);
    assert.equal(loadConfig(schema, { filePath: optionFile }).name, "option-file");
    assert.equal(
      loadConfig(schema, { filePath: optionFile, argv: [`--config=${flagFile}`] }).name,
      "flag-file",
    );
  });

  it("reads nested tables, dotted keys and inline tables from TOML", () => {
    const path = writeToml(
      [
        "raftstore.pre-vote = false",
        "[storage]",
        'engine = "etcd"',
        "[storage.etcd]",
        'endpoints = ["http://a:2379", "http://b:2379"]',
        "[schedule]",
        "leader-schedule-ratio = 0.25",
      ].join("\n"),
    );
    const config = loadConfig(schema, { filePath: path });
    assert.equal(config.raftstore.preVote, false);
    assert.equal(config.storage.engine, "etcd");
    assert.deepEqual(config.storage.etcd.endpoints, ["http://a:2379", "http://b:2379"]);
    assert.equal(config.schedule.leaderScheduleRatio, 0.25);
    const inline = writeToml(`storage = { engine = "etcd", etcd = { endpoints = ["x"] } }\n`);
    assert.deepEqual(loadConfig(schema, { filePath: inline }).storage.etcd.endpoints, ["x"]);
  });

  it("parses every type from flags and env", () => {
    const config = loadConfig(schema, {
      argv: [
        "--raftstore.election-timeout-ticks",
        "15",
        "--raftstore.raft-base-tick-interval=1m30s",
        "--raftstore.region-split-size=1.5GiB",
        "--raftstore.pre-vote",
        "false",
        "--storage.engine=etcd",
      ],
      env: {
        TESSERA_PD_SCHEDULE_LEADER_SCHEDULE_RATIO: "1e-1",
        TESSERA_PD_STORAGE_ETCD_ENDPOINTS: " a , b,,",
      },
      envPrefix: ENV_PREFIX,
    });
    assert.equal(config.raftstore.electionTimeoutTicks, 15);
    assert.equal(config.raftstore.raftBaseTickInterval, 90_000);
    assert.equal(config.raftstore.regionSplitSize, 1.5 * 2 ** 30);
    assert.equal(config.raftstore.preVote, false);
    assert.equal(config.storage.engine, "etcd");
    assert.equal(config.schedule.leaderScheduleRatio, 0.1);
    assert.deepEqual(config.storage.etcd.endpoints, ["a", "b"]);
  });

  it("treats a bool flag without a value as true", () => {
    const config = loadConfig(schema, {
      filePath: writeToml("raftstore.pre-vote = false\n"),
      argv: ["--raftstore.pre-vote", "--name", "n"],
    });
    assert.equal(config.raftstore.preVote, true);
    assert.equal(config.name, "n");
  });

  it("accepts a size as a TOML integer of bytes", () => {
    const config = loadConfig(schema, { filePath: writeToml("raftstore.region-split-size = 4096\n") });
    assert.equal(config.raftstore.regionSplitSize, 4096);
  });

  const badValues: ReadonlyArray<readonly [string, string, string]> = [
    ["raftstore.election-timeout-ticks", "ten", "expected an integer of at least 1"],
    ["raftstore.election-timeout-ticks", "0", "expected an integer of at least 1"],
    ["raftstore.election-timeout-ticks", "1.5", "expected an integer"],
    ["raftstore.raft-base-tick-interval", "100", "expected a duration"],
    ["raftstore.raft-base-tick-interval", "0.5ms", "expected a duration"],
    ["raftstore.raft-base-tick-interval", "10 s", "expected a duration"],
    ["raftstore.region-split-size", "96XB", "expected a size"],
    ["raftstore.region-split-size", "-1", "expected a size"],
    ["raftstore.pre-vote", "yes", "expected true or false"],
    ["schedule.leader-schedule-ratio", "1.5", "expected a number of at most 1"],
    ["schedule.leader-schedule-ratio", "half", "expected a number"],
    ["storage.engine", "zookeeper", 'expected one of "embedded", "etcd"'],
  ];
  for (const [key, value, expected] of badValues) {
    it(`rejects ${key}=${value} from a flag`, () => {
      const error = expectConfigError(
        () => loadConfig(schema, { argv: [`--${key}=${value}`] }),
        [`flag --${key}:`, `value "${value}" is not valid for key "${key}"`, expected],
      );
      assert.equal(error.key, key);
      assert.equal(error.source, `flag --${key}`);
    });
  }

  it("rejects bad values from env, naming the variable", () => {
    expectConfigError(
      () => loadConfig(schema, { env: { TESSERA_PD_RAFTSTORE_PRE_VOTE: "1" }, envPrefix: ENV_PREFIX }),
      ["environment variable TESSERA_PD_RAFTSTORE_PRE_VOTE:", "expected true or false"],
    );
  });

  it("rejects wrongly typed values in the file, naming the path", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ['raftstore.election-timeout-ticks = "10"', "expected an integer"],
      ["raftstore.raft-base-tick-interval = 100", "expected a duration"],
      ['raftstore.pre-vote = "true"', "expected true or false"],
      ["storage.etcd.endpoints = [1, 2]", "expected a list of strings"],
      ['storage.etcd.endpoints = "a,b"', "expected a list of strings"],
      ["name = 5", "expected a string"],
    ];
    for (const [line, expected] of cases) {
      const path = writeToml(`${line}\n`);
      expectConfigError(() => loadConfig(schema, { filePath: path }), [`config file ${path}:`, expected]);
    }
  });

  it("rejects an unknown key in the file with a suggestion", () => {
    const path = writeToml("[raftstore]\nelection-timout-ticks = 10\n");
    const error = expectConfigError(() => loadConfig(schema, { filePath: path }), []);
    assert.equal(
      error.message,
      `config file ${path}: key "raftstore.election-timout-ticks" is unknown (did you mean "raftstore.election-timeout-ticks"?)`,
    );
  });

  it("rejects an unknown table in the file and a value where a table belongs", () => {
    const unknownTable = writeToml("[coprocessor]\nsplit = true\n");
    expectConfigError(() => loadConfig(schema, { filePath: unknownTable }), ['key "coprocessor" is unknown']);
    const scalarTable = writeToml("raftstore = 5\n");
    expectConfigError(() => loadConfig(schema, { filePath: scalarTable }), ['key "raftstore" is unknown']);
  });

  it("rejects an unknown flag with a suggestion", () => {
    expectConfigError(
      () => loadConfig(schema, { argv: ["--storage.engin=etcd"] }),
      ['flag --storage.engin: key "storage.engin" is unknown (did you mean "storage.engine"?)'],
    );
    expectConfigError(() => loadConfig(schema, { argv: ["--help"] }), ['key "help" is unknown']);
  });

  it("rejects an unknown prefixed env var with a suggestion and ignores others", () => {
    expectConfigError(
      () => loadConfig(schema, { env: { TESSERA_PD_DATADIR: "x", HOME: "/root" }, envPrefix: ENV_PREFIX }),
      ["environment variable TESSERA_PD_DATADIR: matches no config key (did you mean TESSERA_PD_DATA_DIR?)"],
    );
  });

  it("rejects malformed command lines", () => {
    expectConfigError(
      () => loadConfig(schema, { argv: ["stray"] }),
      ['command line: unexpected argument "stray"'],
    );
    expectConfigError(() => loadConfig(schema, { argv: ["--name"] }), ["flag --name: needs a value"]);
    expectConfigError(() => loadConfig(schema, { argv: ["--name", "--data-dir=x"] }), ["needs a value"]);
    expectConfigError(() => loadConfig(schema, { argv: ["--name=a", "--name=b"] }), ["given more than once"]);
  });

  it("rejects a missing or malformed file", () => {
    const missing = join(directory, "missing.toml");
    expectConfigError(
      () => loadConfig(schema, { filePath: missing }),
      [`config file ${missing}: cannot be read`],
    );
    const malformed = writeToml("name = \n");
    expectConfigError(
      () => loadConfig(schema, { filePath: malformed }),
      [`config file ${malformed}: is not valid TOML`],
    );
  });

  it("requires an env prefix when env is given", () => {
    assert.throws(() => loadConfig(schema, { env: {} }), TypeError);
  });

  it("rejects schemas whose keys cannot be told apart or whose defaults are invalid", () => {
    const broken: ReadonlyArray<readonly [ConfigSchema, string]> = [
      [{ Bad_Key: { type: "string", default: "", doc: "" } }, "kebab-case"],
      [{ config: { type: "string", default: "", doc: "" } }, "reserved"],
      [
        { a: { type: "int", default: 1, doc: "" }, "a.b": { type: "int", default: 1, doc: "" } },
        'key "a" is also used as the table',
      ],
      [
        { "a.b-c": { type: "int", default: 1, doc: "" }, "a-b.c": { type: "int", default: 1, doc: "" } },
        "same environment variable",
      ],
      [{ mode: { type: "enum", values: ["x"], default: "y", doc: "" } }, "not one of its values"],
      [{ wait: { type: "duration", default: "soon", doc: "" } }, 'config schema default of "wait"'],
    ];
    for (const [brokenSchema, message] of broken)
      expectConfigError(() => loadConfig(brokenSchema), [message]);
  });
});

describe("parseDurationMs and parseSizeBytes", () => {
  it("parse the documented forms", () => {
    assert.equal(parseDurationMs("100ms"), 100);
    assert.equal(parseDurationMs("10s"), 10_000);
    assert.equal(parseDurationMs("30m"), 1_800_000);
    assert.equal(parseDurationMs("1h30m"), 5_400_000);
    assert.equal(parseDurationMs("1.1s"), 1_100);
    assert.equal(parseDurationMs("2d"), 172_800_000);
    assert.equal(parseDurationMs("0s"), 0);
    assert.equal(parseDurationMs(""), undefined);
    assert.equal(parseDurationMs("5"), undefined);
    assert.equal(parseDurationMs("5w"), undefined);
    assert.equal(parseSizeBytes("96MiB"), 96 * 2 ** 20);
    assert.equal(parseSizeBytes("96MB"), 96 * 2 ** 20);
    assert.equal(parseSizeBytes("512KiB"), 512 * 1024);
    assert.equal(parseSizeBytes("1 GiB"), 2 ** 30);
    assert.equal(parseSizeBytes("4096"), 4096);
    assert.equal(parseSizeBytes("0.5B"), undefined);
    assert.equal(parseSizeBytes("1PiB"), undefined);
  });
});

describe("describeConfig and helpRequested", () => {
  it("lists every key with its flag, env var, default and doc", () => {
    const help = describeConfig(schema, { envPrefix: ENV_PREFIX });
    for (const [key, option] of Object.entries(schema)) {
      assert.ok(help.includes(`--${key} <${option.type}>`), `help lacks --${key}`);
      assert.ok(help.includes(option.doc), `help lacks the doc of ${key}`);
    }
    assert.ok(help.includes("--config <path>"));
    assert.ok(help.includes("(default 10, env TESSERA_PD_RAFTSTORE_ELECTION_TIMEOUT_TICKS)"));
    assert.ok(help.includes('(default "96MiB", env TESSERA_PD_RAFTSTORE_REGION_SPLIT_SIZE)'));
    assert.ok(help.includes('Expects one of "embedded", "etcd".'));
    assert.ok(!describeConfig(schema).includes("env TESSERA_PD_"));
  });

  it("detects --help and -h", () => {
    assert.equal(helpRequested(["--name=x", "--help"]), true);
    assert.equal(helpRequested(["-h"]), true);
    assert.equal(helpRequested(["--name=x"]), false);
  });
});
