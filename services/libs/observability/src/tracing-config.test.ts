import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "#runtime";
import { DEFAULT_OTLP_ENDPOINT, tracingConfigSchema, tracingOptionsFromConfig } from "./tracing-config.ts";

const service = { serviceName: "tikv-store", dataDir: "/var/lib/tessera" };

describe("tracing config", () => {
  it("defaults to tracing off, a sample ratio of 1 and spans.jsonl in the data directory", () => {
    const config = loadConfig(tracingConfigSchema, { argv: [] });
    assert.deepEqual(tracingOptionsFromConfig(config.tracing, service), {
      serviceName: "tikv-store",
      exporter: "none",
      filePath: join("/var/lib/tessera", "spans.jsonl"),
      otlpEndpoint: DEFAULT_OTLP_ENDPOINT,
      sampleRatio: 1,
    });
  });

  it("takes flags and environment variables", () => {
    const config = loadConfig(tracingConfigSchema, {
      argv: ["--tracing.exporter", "file", "--tracing.file", "/tmp/trace.jsonl"],
      env: { TESSERA_STORE_TRACING_SAMPLE_RATIO: "0.25" },
      envPrefix: "TESSERA_STORE_",
    });
    const options = tracingOptionsFromConfig(config.tracing, service);
    assert.equal(options.exporter, "file");
    assert.equal(options.filePath, "/tmp/trace.jsonl");
    assert.equal(options.sampleRatio, 0.25);
  });

  it("rejects unknown exporters and ratios outside [0, 1]", () => {
    assert.throws(
      () => loadConfig(tracingConfigSchema, { argv: ["--tracing.exporter", "jaeger"] }),
      ConfigError,
    );
    assert.throws(
      () => loadConfig(tracingConfigSchema, { argv: ["--tracing.sample-ratio", "2"] }),
      ConfigError,
    );
    assert.throws(
      () => loadConfig(tracingConfigSchema, { argv: ["--tracing.sample-ratio", "-0.1"] }),
      ConfigError,
    );
  });
});
