import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "#runtime";
import {
  DEFAULT_SCHEDULE_CONFIG,
  resolveScheduleConfig,
  scheduleConfigFromValues,
  scheduleConfigSchema,
} from "./schedule-config.ts";

describe("schedule config", () => {
  it("documents the same defaults in the config schema as in code", () => {
    const loaded = loadConfig(scheduleConfigSchema, { argv: [] });
    assert.deepEqual(scheduleConfigFromValues(loaded.schedule), DEFAULT_SCHEDULE_CONFIG);
  });

  it("maps TiKV-style durations and sizes from flags onto milliseconds and bytes", () => {
    const loaded = loadConfig(scheduleConfigSchema, {
      argv: [
        "--schedule.operator-timeout=1m",
        "--schedule.region-weight-min-size=4MiB",
        "--schedule.max-replicas=5",
      ],
    });
    const config = scheduleConfigFromValues(loaded.schedule);
    assert.equal(config.operatorTimeoutMs, 60_000);
    assert.equal(config.regionWeightMinBytes, 4 * 1024 * 1024);
    assert.equal(config.maxReplicas, 5);
  });

  it("rejects values that would break scheduling, naming the field", () => {
    assert.throws(
      () => resolveScheduleConfig({ leaderBalanceTolerance: 0 }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.key, "leaderBalanceTolerance");
        assert.match(error.message, /leaderBalanceTolerance must be a finite number >= 1, got 0/);
        return true;
      },
    );
    assert.throws(() => resolveScheduleConfig({ maxReplicas: Number.NaN }), /maxReplicas/);
    assert.equal(resolveScheduleConfig({ regionScheduleLimit: 0 }).regionScheduleLimit, 0);
  });
});
