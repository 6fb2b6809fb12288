import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { UsageError } from "../../cli-errors.ts";
import { MAX_STORE_COUNT, parsePlaygroundArguments } from "./playground-options.ts";

describe("playground arguments", () => {
  test("defaults to pd + 3 stores under .tessera/playground, resolved against the working directory", () => {
    assert.deepEqual(parsePlaygroundArguments([], "/repo"), {
      kind: "start",
      options: { storeCount: 3, pdCount: 1, dataDir: "/repo/.tessera/playground", detach: false },
    });
  });

  test("reads --stores, --pd, --data-dir and --detach", () => {
    const invocation = parsePlaygroundArguments(
      ["--stores", "5", "--pd=3", "--data-dir", "/data/x", "--detach"],
      "/repo",
    );
    assert.deepEqual(invocation, {
      kind: "start",
      options: { storeCount: 5, pdCount: 3, dataDir: "/data/x", detach: true },
    });
  });

  test("stop takes the data directory only", () => {
    assert.deepEqual(parsePlaygroundArguments(["stop", "--data-dir", "d"], "/repo"), {
      kind: "stop",
      dataDir: "/repo/d",
    });
    assert.throws(() => parsePlaygroundArguments(["stop", "--stores", "2"], "/repo"), /only --data-dir/);
  });

  test("counts outside their bounds, unknown flags and stray words are usage errors", () => {
    for (const argv of [
      ["--stores", "0"],
      ["--stores", String(MAX_STORE_COUNT + 1)],
      ["--stores", "2.5"],
      ["--pd", "-1"],
      ["--pd", "x"],
      ["--store", "3"],
      ["begin"],
      ["stop", "now"],
    ]) {
      assert.throws(() => parsePlaygroundArguments(argv, "/repo"), UsageError, argv.join(" "));
    }
  });

  test("--help wins over everything else", () => {
    assert.deepEqual(parsePlaygroundArguments(["--stores", "2", "--help"], "/repo"), { kind: "help" });
  });
});
