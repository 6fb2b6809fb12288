import assert from "node:assert/strict";
import { hostname } from "node:os";
import { describe, it } from "node:test";
import { createLogger, type LogLevel } from "./logger.ts";

/** A pino destination that keeps each line, parsed. */
function captureLines() {
  const lines: Record<string, unknown>[] = [];
  return { lines, destination: { write: (line: string) => void lines.push(JSON.parse(line)) } };
}

function capturingLogger(level: LogLevel = "info") {
  const { lines, destination } = captureLines();
  return { lines, logger: createLogger({ component: "tikv-store", level, destination }) };
}

describe("createLogger", () => {
  it("writes JSON lines with component, pid, hostname, level name and time", () => {
    const { lines, logger } = capturingLogger();
    logger.info({ peers: 3 }, "region ready");
    assert.equal(lines.length, 1);
    const line = lines[0]!;
    assert.equal(line.component, "tikv-store");
    assert.equal(line.pid, process.pid);
    assert.equal(line.hostname, hostname());
    assert.equal(line.level, "info");
    assert.equal(line.msg, "region ready");
    assert.equal(line.peers, 3);
    assert.ok(!Number.isNaN(Date.parse(String(line.time))));
  });

  it("writes bigint fields as exact decimal strings, also nested and in child bindings", () => {
    const { lines, logger } = capturingLogger();
    const regionLogger = logger.child({ regionId: 18446744073709551615n, storeId: 1n });
    regionLogger.info(
      { startTs: 449958371098722305n, epoch: { version: 5n, confVer: 2 }, keys: [1n, "a"] },
      "prewrite",
    );
    const line = lines[0]!;
    assert.equal(line.regionId, "18446744073709551615");
    assert.equal(line.storeId, "1");
    assert.equal(line.startTs, "449958371098722305");
    assert.deepEqual(line.epoch, { version: "5", confVer: 2 });
    assert.deepEqual(line.keys, ["1", "a"]);
    regionLogger.child({ peerId: 9007199254740993n }).warn("grandchild");
    assert.equal(lines[1]!.peerId, "9007199254740993");
    assert.equal(lines[1]!.regionId, "18446744073709551615");
  });

  it("does not mutate the logged object", () => {
    const { logger } = capturingLogger();
    const fields = { ts: 7n, nested: { id: 8n } };
    logger.info(fields, "x");
    assert.equal(fields.ts, 7n);
    assert.equal(fields.nested.id, 8n);
  });

  it("still serializes errors", () => {
    const { lines, logger } = capturingLogger();
    logger.error({ err: new Error("disk full"), regionId: 3n }, "apply failed");
    const error = lines[0]!.err as Record<string, unknown>;
    assert.equal(error.message, "disk full");
    assert.equal(error.type, "Error");
    assert.equal(lines[0]!.regionId, "3");
  });

  it("drops lines below the configured level", () => {
    const { lines, logger } = capturingLogger("warn");
    logger.info("hidden");
    logger.debug("hidden");
    logger.warn("shown");
    assert.deepEqual(
      lines.map((line) => line.msg),
      ["shown"],
    );
    const { lines: silentLines, logger: silent } = capturingLogger("silent");
    silent.fatal("nothing");
    assert.equal(silentLines.length, 0);
  });

  it("survives cyclic objects", () => {
    const { lines, logger } = capturingLogger();
    const cyclic: Record<string, unknown> = { id: 1n };
    cyclic.self = cyclic;
    logger.info({ cyclic }, "cycle");
    assert.equal((lines[0]!.cyclic as Record<string, unknown>).id, "1");
  });
});
