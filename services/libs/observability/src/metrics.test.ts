import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  assertMetricName,
  COUNT_BUCKETS,
  createRegistry,
  LATENCY_SECONDS_BUCKETS,
  MetricFactory,
  MetricNameError,
  metricName,
  SIZE_BYTES_BUCKETS,
} from "./metrics.ts";

describe("metricName", () => {
  it("builds <component>_<subsystem>_<name>_<unit>", () => {
    assert.equal(
      metricName({
        component: "store",
        subsystem: "raftstore",
        name: "append_log_duration",
        unit: "seconds",
      }),
      "store_raftstore_append_log_duration_seconds",
    );
    assert.equal(
      metricName({ component: "pd", subsystem: "tso", name: "requests", unit: "total" }),
      "pd_tso_requests_total",
    );
  });

  it("rejects malformed parts", () => {
    const bad = [
      { component: "tikv_store", subsystem: "raft", name: "x", unit: "total" },
      { component: "pd", subsystem: "Tso", name: "x", unit: "total" },
      { component: "pd", subsystem: "tso", name: "bad-name", unit: "total" },
      { component: "pd", subsystem: "tso", name: "", unit: "total" },
      { component: "pd", subsystem: "tso", name: "x", unit: "milliseconds" },
    ] as const;
    for (const parts of bad) {
      // The last case's unit is outside MetricUnit on purpose: names can come from untyped code.
      assert.throws(() => metricName(parts as Parameters<typeof metricName>[0]), MetricNameError);
    }
  });

  it("checks full names", () => {
    assertMetricName("gateway_session_query_duration_seconds");
    for (const name of [
      "gateway_queries",
      "gateway_session_queries_ms",
      "Gateway_session_x_total",
      "pd_tso__total",
    ]) {
      assert.throws(
        () => assertMetricName(name),
        (error) => error instanceof MetricNameError && error.metricName === name,
      );
    }
  });
});

describe("bucket presets", () => {
  it("are strictly increasing and span their documented ranges", () => {
    for (const buckets of [LATENCY_SECONDS_BUCKETS, SIZE_BYTES_BUCKETS, COUNT_BUCKETS]) {
      for (let index = 1; index < buckets.length; index++) assert.ok(buckets[index]! > buckets[index - 1]!);
    }
    assert.equal(LATENCY_SECONDS_BUCKETS[0], 0.0005);
    assert.equal(LATENCY_SECONDS_BUCKETS.at(-1), 10);
    assert.equal(SIZE_BYTES_BUCKETS.at(-1), 64 * 2 ** 20);
    assert.equal(COUNT_BUCKETS.at(-1), 65_536);
  });
});

describe("createRegistry and MetricFactory", () => {
  it("exposes named metrics and prefixed process metrics in the text format", async () => {
    const registry = createRegistry("pd");
    const metrics = new MetricFactory(registry, "pd");
    const requests = metrics.counter({
      subsystem: "tso",
      name: "requests",
      unit: "total",
      help: "TSO requests.",
      labelNames: ["result"],
    });
    const regions = metrics.gauge({
      subsystem: "cluster",
      name: "region",
      unit: "count",
      help: "Regions known.",
    });
    const latency = metrics.histogram({
      subsystem: "tso",
      name: "request_duration",
      unit: "seconds",
      help: "TSO latency.",
    });
    const batch = metrics.histogram({
      subsystem: "tso",
      name: "batch",
      unit: "count",
      help: "Per batch.",
      buckets: [1, 10],
    });
    requests.inc({ result: "ok" }, 2);
    regions.set(42);
    latency.observe(0.003);
    batch.observe(5);

    const text = await registry.metrics();
    assert.match(text, /^# HELP pd_tso_requests_total TSO requests\.$/m);
    assert.match(text, /^pd_tso_requests_total\{result="ok"\} 2$/m);
    assert.match(text, /^pd_cluster_region_count 42$/m);
    assert.match(text, /^pd_tso_request_duration_seconds_bucket\{le="0\.0005"\} 0$/m);
    assert.match(text, /^pd_tso_request_duration_seconds_bucket\{le="0\.005"\} 1$/m);
    assert.match(text, /^pd_tso_request_duration_seconds_count 1$/m);
    assert.match(text, /^pd_tso_batch_count_bucket\{le="10"\} 1$/m);
    assert.match(text, /^pd_process_cpu_user_seconds_total /m);
    assert.match(text, /^pd_nodejs_eventloop_lag_seconds /m);
    const names = (await registry.getMetricsAsJSON()).map((metric) => metric.name);
    assert.ok(
      names.every((name) => name.startsWith("pd_")),
      names.join(", "),
    );
  });

  it("keeps registries of different components apart", async () => {
    const store = createRegistry("store");
    new MetricFactory(store, "store").counter({
      subsystem: "raft",
      name: "sent_messages",
      unit: "total",
      help: "x",
    });
    const gateway = createRegistry("gateway");
    const gatewayText = await gateway.metrics();
    assert.doesNotMatch(gatewayText, /store_/);
    assert.match(await store.metrics(), /^store_raft_sent_messages_total 0$/m);
  });

  it("refuses bad component names and bad metric names", () => {
    assert.throws(() => createRegistry("tikv-store"), MetricNameError);
    const metrics = new MetricFactory(createRegistry("pd"), "pd");
    assert.throws(
      () => metrics.gauge({ subsystem: "raft_store", name: "x", unit: "count", help: "x" }),
      MetricNameError,
    );
  });
});
