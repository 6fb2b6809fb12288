/**
 * Observability of a real pd and one store in this process: one RawPut through the generated tikvpb
 * client is traced from the caller into the store and down to the raftstore call (spans read back from
 * the file exporter); the status ports' /metrics show per-RPC counts and latencies, region and leader
 * counts, raft fsync and apply figures; the raw client's calls (over BatchCommands streams) are traced
 * into the store too, and its metrics show region cache hits and misses; log lines carry the store, cluster and member ids.
 *
 * Everything that loads @grpc/grpc-js is imported only after `startTracing` (see tracing.ts), hence the
 * dynamic imports below.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  createLogger,
  createRegistry,
  type Logger,
  MetricFactory,
  type RunningTracing,
  type SpanRecord,
  startTracing,
  withSpan,
} from "#observability";
import type { RunningPd } from "../../../services/pd/src/server/pd-server.ts";
import type { RunningStore } from "../../../services/tikv-store/src/server/store-server.ts";
import type { RawRpcClient } from "../../../services/tikv-store/src/testing/raw-rpc-client.ts";

type LogLine = Record<string, unknown>;

function capturingLogger(component: string): { lines: LogLine[]; logger: Logger } {
  const lines: LogLine[] = [];
  const destination = { write: (line: string) => void lines.push(JSON.parse(line)) };
  return { lines, logger: createLogger({ component, level: "info", destination }) };
}

/** The value of one sample line of a Prometheus text page, or undefined when the series is absent. */
function sample(page: string, series: string): number | undefined {
  const line = page.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`never happened: ${what}`);
}

describe("observability of pd and a store", () => {
  const root = mkdtempSync(join(tmpdir(), "tessera-observability-"));
  const spanFile = join(root, "spans.jsonl");
  const pdLog = capturingLogger("pd");
  const storeLog = capturingLogger("tikv-store");
  let tracing: RunningTracing;
  let pd: RunningPd | undefined;
  let store: RunningStore | undefined;
  let client: RawRpcClient | undefined;
  let closePdClient: (() => Promise<void>) | undefined;

  before(async () => {
    tracing = await startTracing({
      serviceName: "tessera-test",
      exporter: "file",
      filePath: spanFile,
      sampleRatio: 1,
    });
    const { pdOptionsWithDefaults, startPd } = await import("../../../services/pd/src/server/pd-server.ts");
    const { startStore, storeOptionsWithDefaults } = await import(
      "../../../services/tikv-store/src/server/store-server.ts"
    );
    const { RawRpcClient } = await import("../../../services/tikv-store/src/testing/raw-rpc-client.ts");
    const { PdClient } = await import("#client");
    pd = await startPd(
      pdOptionsWithDefaults({
        dataDir: join(root, "pd"),
        listenHost: "127.0.0.1",
        clientPort: 0,
        httpPort: 0,
        scheduleIntervalMs: 200,
        logger: pdLog.logger,
      }),
    );
    store = await startStore(
      storeOptionsWithDefaults({
        dataDir: join(root, "store"),
        listenAddress: "127.0.0.1:0",
        statusListenAddress: "127.0.0.1:0",
        pdEndpoints: [pd.clientUrl],
        storeHeartbeatIntervalMs: 200,
        regionHeartbeatIntervalMs: 200,
        logger: storeLog.logger,
      }),
    );
    const pdClient = await PdClient.connect({ endpoints: [pd.clientUrl] });
    closePdClient = () => pdClient.close();
    client = new RawRpcClient(pdClient);
    await client.waitForReplicas(new Uint8Array(), 1);
  });

  after(async () => {
    client?.close();
    await closePdClient?.();
    await store?.close();
    await pd?.close();
    await tracing?.shutdown();
    rmSync(root, { recursive: true, force: true });
  });

  async function exportedSpans(): Promise<SpanRecord[]> {
    await tracing.forceFlush();
    return readFileSync(spanFile, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as SpanRecord);
  }

  const rawPut = (key: string, value: string) =>
    client!.raw(Buffer.from(key), (tikv, context, done) =>
      tikv.rawPut({ context, key: Buffer.from(key), value: Buffer.from(value) }, done),
    );

  test("one RawPut is one trace: caller, client span, store server span, raftstore call", async () => {
    assert.ok(tracing.grpcInstrumented, "grpc-js was loaded after tracing started");
    await withSpan("test.raw_put", {}, () => rawPut("traced-key", "traced-value"));
    const spans = await exportedSpans();
    const root = spans.find((span) => span.name === "test.raw_put");
    assert.ok(root, "the caller's span was exported");
    const trace = spans.filter((span) => span.traceId === root.traceId);
    const childOf = (parent: SpanRecord, name: string, kind: SpanRecord["kind"]) =>
      trace.find((span) => span.parentSpanId === parent.spanId && span.name === name && span.kind === kind);

    const clientSpan = childOf(root, "grpc.tikvpb.Tikv/RawPut", "client");
    assert.ok(clientSpan, `a RawPut client span under the caller; trace: ${JSON.stringify(trace)}`);
    const serverSpan = childOf(clientSpan, "grpc.tikvpb.Tikv/RawPut", "server");
    assert.ok(serverSpan, "the store's server span is the client span's child, across the wire");
    assert.equal(serverSpan.attributes["rpc.method"], "RawPut");
    const raftSpan = childOf(serverSpan, "raftkv.write", "internal");
    assert.ok(raftSpan, "the raftstore write is the server span's child");
    assert.equal(raftSpan.status, "unset");
    assert.ok(raftSpan.attributes["tessera.region_id"], "the raftstore span names its region");
    // The routing lookup in pd belongs to the same trace.
    const pdServerSpans = trace.filter(
      (span) => span.name === "grpc.pdpb.PD/GetRegion" && span.kind === "server",
    );
    assert.ok(pdServerSpans.length > 0, "pd's GetRegion is traced under the caller too");
    assert.ok(trace.every((span) => span.service === "tessera-test"));
  });

  test("store and pd /metrics report per-RPC counts and latencies, regions, leaders, raft and apply", async () => {
    for (let index = 0; index < 5; index++) await rawPut(`metrics-key-${index}`, "value");
    const key = Buffer.from("metrics-key-0");
    await client!.raw(key, (tikv, context, done) => tikv.rawGet({ context, key }, done));

    const storePage = await (await fetch(`http://${store!.statusAddress}/metrics`)).text();
    const positive = [
      'store_grpc_requests_total{type="raw_put",outcome="ok"}',
      'store_grpc_request_duration_seconds_count{type="raw_put"}',
      'store_grpc_requests_total{type="raw_get",outcome="ok"}',
      'store_raftkv_request_duration_seconds_count{type="write",outcome="ok"}',
      'store_raftkv_request_duration_seconds_count{type="read",outcome="ok"}',
      "store_raftstore_region_count",
      "store_raftstore_leader_count",
      "store_raftstore_fsync_total",
      "store_raftstore_fsync_duration_seconds_count",
      "store_raftstore_apply_duration_seconds_count",
    ];
    for (const series of positive) {
      assert.ok((sample(storePage, series) ?? 0) > 0, `${series} is positive on the store`);
    }

    const storeId = store!.storeId.toString();
    let pdPage = "";
    // Cluster gauges follow the scheduler's rounds (every 200 ms here) and the store's heartbeats.
    await eventually(async () => {
      pdPage = await (await fetch(`${pd!.httpUrl}/metrics`)).text();
      return (sample(pdPage, `pd_cluster_store_leaders_count{store="${storeId}"}`) ?? 0) > 0;
    }, "pd counts the store's leader");
    for (const series of [
      'pd_grpc_requests_total{method="GetRegion",result="ok"}',
      'pd_grpc_request_duration_seconds_count{method="GetRegion"}',
      'pd_grpc_requests_total{method="StoreHeartbeat",result="ok"}',
      "pd_cluster_regions_count",
      `pd_cluster_store_regions_count{store="${storeId}"}`,
    ]) {
      assert.ok((sample(pdPage, series) ?? 0) > 0, `${series} is positive on pd`);
    }
  });

  test("the raw client's call is traced into the store through its BatchCommands stream, and its metrics count region cache misses and hits", async () => {
    const { RawKvClient } = await import("#client");
    const registry = createRegistry("client");
    const rawClient = await RawKvClient.connect({
      pdEndpoints: [pd!.clientUrl],
      metrics: new MetricFactory(registry, "client"),
    });
    try {
      await rawClient.put(Buffer.from("client-key"), Buffer.from("1"));
      assert.equal(new TextDecoder().decode(await rawClient.get(Buffer.from("client-key"))), "1");
    } finally {
      await rawClient.close();
    }
    const spans = await exportedSpans();
    const call = spans.find((span) => span.name === "tikvclient.raw.put");
    assert.ok(call, "the raw client call has a span");
    assert.ok(
      spans.some(
        (span) =>
          span.parentSpanId === call.spanId &&
          span.kind === "client" &&
          span.name.startsWith("grpc.pdpb.PD/"),
      ),
      "its region lookup in pd is a child span",
    );
    // The put went over a BatchCommands stream: the trace crosses the wire inside the request's context.
    const trace = spans.filter((span) => span.traceId === call.traceId);
    const child = (parent: SpanRecord, name: string, kind: SpanRecord["kind"]) =>
      trace.find((span) => span.parentSpanId === parent.spanId && span.name === name && span.kind === kind);
    const attempt = child(call, "tikvclient.rpc.rawPut", "client");
    assert.ok(attempt, `the attempt is a client span under the call; trace: ${JSON.stringify(trace)}`);
    assert.equal(attempt.attributes["tessera.store_id"], store!.storeId.toString());
    const served = child(attempt, "tikv.batch_commands.rawPut", "server");
    assert.ok(served, "the store's span for the batched request is the attempt's child, across the wire");
    assert.ok(child(served, "raftkv.write", "internal"), "the raftstore write is the store span's child");
    const page = await registry.metrics();
    assert.ok((sample(page, 'client_tikvclient_region_cache_lookups_total{result="miss"}') ?? 0) > 0);
    assert.ok((sample(page, 'client_tikvclient_region_cache_lookups_total{result="hit"}') ?? 0) > 0);
    assert.match(page, /^# TYPE client_tikvclient_backoff_total counter$/m);
    assert.ok(
      (sample(page, 'client_tikvclient_raw_operation_duration_seconds_count{operation="put",outcome="ok"}') ??
        0) > 0,
    );
  });

  test("log lines carry the store id at the store and the cluster id and member at pd", () => {
    const started = storeLog.lines.find((line) => line.msg === "store started");
    assert.equal(started?.storeId, store!.storeId.toString());
    assert.equal(started?.component, "tikv-store");
    const recovered = storeLog.lines.find((line) => line.msg === "raftstore recovered its regions");
    assert.equal(recovered?.storeId, store!.storeId.toString(), "the raftstore's lines name the store");

    const pdStarted = pdLog.lines.find((line) => line.msg === "pd started");
    assert.equal(pdStarted?.clusterId, pd!.clusterId.toString());
    assert.equal(pdStarted?.member, pd!.member.name);
  });
});
