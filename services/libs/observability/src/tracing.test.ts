/**
 * Tracing in one process, started once (the OpenTelemetry API allows one tracer provider per process;
 * node:test runs each test file in its own process): spans reach the file exporter, gRPC calls are traced
 * from client to server with the trace context carried in metadata, our own spans nest under the server
 * span, and log lines written inside a span carry its ids.
 *
 * grpc-js and the generated protocol code are imported only after `startTracing`, as services do.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { SpanRecord } from "./json-lines-span-exporter.ts";
import { createLogger } from "./logger.ts";
import { addSpanEvent, withSpan } from "./spans.ts";
import {
  instrumentGrpc,
  type RunningTracing,
  startTracing,
  TracingAlreadyStartedError,
  TracingConfigError,
} from "./tracing.ts";

const root = mkdtempSync(join(tmpdir(), "tessera-tracing-"));
// A directory that does not exist yet: the exporter creates it.
const spanFile = join(root, "traces", "spans.jsonl");
let tracing: RunningTracing;

async function exportedSpans(): Promise<SpanRecord[]> {
  await tracing.forceFlush();
  return readFileSync(spanFile, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as SpanRecord);
}

before(async () => {
  tracing = await startTracing({
    serviceName: "tracing-test",
    exporter: "file",
    filePath: spanFile,
    sampleRatio: 1,
  });
});

after(async () => {
  await tracing.shutdown();
  rmSync(root, { recursive: true, force: true });
});

describe("startTracing", () => {
  it("instruments grpc-js when it starts before grpc-js is loaded", async () => {
    assert.equal(tracing.enabled, true);
    assert.equal(tracing.grpcInstrumented, true);
    assert.equal(await instrumentGrpc(), true, "installing again changes nothing");
  });

  it("refuses a second start, and bad options, but 'none' is always a no-op", async () => {
    await assert.rejects(
      startTracing({ serviceName: "again", exporter: "console", sampleRatio: 1 }),
      TracingAlreadyStartedError,
    );
    await assert.rejects(
      startTracing({ serviceName: "x", exporter: "file", sampleRatio: 1 }),
      TracingConfigError,
    );
    await assert.rejects(
      startTracing({ serviceName: "x", exporter: "otlp", sampleRatio: 1.5 }),
      TracingConfigError,
    );
    const off = await startTracing({ serviceName: "off", exporter: "none", sampleRatio: 1 });
    assert.equal(off.enabled, false);
    assert.equal(off.grpcInstrumented, false);
    await off.shutdown();
  });

  it("exports nested spans with parent links, events, and errors as status", async () => {
    await assert.rejects(
      withSpan("outer", { "test.case": "nesting" }, async () => {
        await withSpan("inner", {}, async () => addSpanEvent("backoff", { "backoff.kind": "regionMiss" }));
        throw new RangeError("region 7 is gone");
      }),
      RangeError,
    );
    const spans = await exportedSpans();
    const outer = spans.find((span) => span.name === "outer" && span.attributes["test.case"] === "nesting");
    const inner = spans.find((span) => span.name === "inner" && span.parentSpanId === outer?.spanId);
    assert.ok(outer && inner);
    assert.equal(inner.traceId, outer.traceId);
    assert.equal(outer.parentSpanId, undefined);
    assert.equal(outer.status, "error");
    assert.equal(outer.statusMessage, "region 7 is gone");
    assert.ok(outer.events.some((event) => event.name === "exception"));
    assert.deepEqual(
      inner.events.map((event) => [event.name, event.attributes]),
      [["backoff", { "backoff.kind": "regionMiss" }]],
    );
    assert.equal(inner.status, "unset");
    assert.equal(inner.service, "tracing-test");
    assert.equal(inner.kind, "internal");
    assert.ok(!Number.isNaN(Date.parse(inner.startTime)));
    assert.ok(inner.durationMs >= 0);
  });

  it("adds the active span's trace and span ids to log lines, and none outside spans", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      component: "test",
      level: "info",
      destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
    });
    logger.info("outside");
    await withSpan("logging", {}, async () => logger.child({ regionId: 3n }).info("inside"));
    const span = (await exportedSpans()).find((candidate) => candidate.name === "logging")!;
    assert.equal(lines[0]!.traceId, undefined);
    assert.equal(lines[1]!.traceId, span.traceId);
    assert.equal(lines[1]!.spanId, span.spanId);
    assert.equal(lines[1]!.regionId, "3");
  });

  it("traces a unary gRPC call from client span to server span, and our spans below it", async () => {
    const grpc = await import("@grpc/grpc-js");
    const { kvrpcpb, tikvpb } = await import("#proto");
    const server = new grpc.Server();
    server.addService(tikvpb.TikvService, {
      rawPut: (_call: unknown, callback: (error: null, response: unknown) => void) =>
        void withSpan("handler.work", {}, async () => {}).then(() =>
          callback(null, kvrpcpb.RawPutResponse.fromPartial({})),
        ),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const client = new tikvpb.TikvClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      const request = kvrpcpb.RawPutRequest.fromPartial({ key: Buffer.from("k"), value: Buffer.from("v") });
      await withSpan(
        "caller",
        {},
        () =>
          new Promise((resolve, reject) =>
            client.rawPut(request, (error, response) => (error ? reject(error) : resolve(response))),
          ),
      );
    } finally {
      client.close();
      server.forceShutdown();
    }

    const spans = await exportedSpans();
    const caller = spans.find((span) => span.name === "caller")!;
    const clientSpan = spans.find((span) => span.kind === "client" && span.parentSpanId === caller.spanId);
    assert.equal(clientSpan?.name, "grpc.tikvpb.Tikv/RawPut");
    const serverSpan = spans.find(
      (span) => span.kind === "server" && span.parentSpanId === clientSpan.spanId,
    );
    assert.equal(serverSpan?.name, "grpc.tikvpb.Tikv/RawPut");
    assert.equal(serverSpan.traceId, caller.traceId);
    const work = spans.find((span) => span.name === "handler.work");
    assert.equal(work?.parentSpanId, serverSpan.spanId);
  });
});
