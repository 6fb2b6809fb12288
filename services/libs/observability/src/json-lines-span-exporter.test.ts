import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { BasicTracerProvider, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import {
  fileSink,
  JsonLinesSpanExporter,
  type SpanLineSink,
  type SpanRecord,
} from "./json-lines-span-exporter.ts";

/** A sink that keeps chunks, or fails every write when `failure` is set. */
function memorySink(failure?: Error): SpanLineSink & { readonly chunks: string[]; closed: boolean } {
  const chunks: string[] = [];
  return {
    chunks,
    closed: false,
    write(chunk, done) {
      if (failure === undefined) chunks.push(chunk);
      done(failure);
    },
    async close() {
      this.closed = true;
    },
  };
}

/** Spans made by a local provider (no global registration), finished and handed to `exporter`. */
function recordSpans(exporter: JsonLinesSpanExporter): void {
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer("exporter-test");
  const parent = tracer.startSpan("rpc", { kind: SpanKind.SERVER, attributes: { "rpc.method": "RawPut" } });
  const child = tracer.startSpan("raftkv.write", {}, trace.setSpan(ROOT_CONTEXT, parent));
  child.addEvent("proposed", { index: 12 });
  child.setStatus({ code: SpanStatusCode.ERROR, message: "not leader" });
  child.end();
  parent.end();
}

const lines = (text: string): SpanRecord[] =>
  text
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as SpanRecord);

describe("JsonLinesSpanExporter", () => {
  it("writes one JSON object per span with ids, parent link, kind, status, attributes and events", () => {
    const sink = memorySink();
    recordSpans(new JsonLinesSpanExporter(sink));
    const [child, parent] = lines(sink.chunks.join(""));
    assert.equal(child!.name, "raftkv.write");
    assert.equal(child!.parentSpanId, parent!.spanId);
    assert.equal(child!.traceId, parent!.traceId);
    assert.match(child!.traceId, /^[0-9a-f]{32}$/);
    assert.equal(child!.kind, "internal");
    assert.equal(child!.status, "error");
    assert.equal(child!.statusMessage, "not leader");
    assert.equal(child!.scope, "exporter-test");
    assert.deepEqual(
      child!.events.map((event) => [event.name, event.attributes]),
      [["proposed", { index: 12 }]],
    );
    assert.equal(parent!.parentSpanId, undefined);
    assert.equal(parent!.kind, "server");
    assert.equal(parent!.status, "unset");
    assert.deepEqual(parent!.attributes, { "rpc.method": "RawPut" });
    assert.equal(typeof parent!.service, "string");
  });

  it("reports a failed write as a failed export, and refuses exports after shutdown", async () => {
    const failing = new JsonLinesSpanExporter(memorySink(new Error("disk full")));
    const results: number[] = [];
    failing.export([] as ReadableSpan[], (result) => results.push(result.code));
    const sink = memorySink();
    const exporter = new JsonLinesSpanExporter(sink);
    await exporter.shutdown();
    assert.equal(sink.closed, true);
    exporter.export([] as ReadableSpan[], (result) => results.push(result.code));
    assert.deepEqual(results, [1, 1]);
  });

  it("appends to a file in a directory it creates, across exporters", async () => {
    const root = mkdtempSync(join(tmpdir(), "tessera-span-file-"));
    try {
      const path = join(root, "nested", "spans.jsonl");
      for (let round = 0; round < 2; round++) {
        const exporter = new JsonLinesSpanExporter(fileSink(path));
        recordSpans(exporter);
        await exporter.shutdown();
      }
      const names = lines(readFileSync(path, "utf8")).map((span) => span.name);
      assert.deepEqual(names, ["raftkv.write", "rpc", "raftkv.write", "rpc"]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
