/**
 * tracing.sample-ratio in its own process (tracing starts once per process): with ratio 0 no new trace is
 * recorded, yet work inside a trace that a caller sampled is recorded, so a trace is whole or absent.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { context, ROOT_CONTEXT, TraceFlags, trace } from "@opentelemetry/api";
import type { SpanRecord } from "./json-lines-span-exporter.ts";
import { createLogger } from "./logger.ts";
import { withSpan } from "./spans.ts";
import { type RunningTracing, startTracing } from "./tracing.ts";

const root = mkdtempSync(join(tmpdir(), "tessera-sampling-"));
const spanFile = join(root, "spans.jsonl");
let tracing: RunningTracing;

before(async () => {
  tracing = await startTracing({
    serviceName: "sampling-test",
    exporter: "file",
    filePath: spanFile,
    sampleRatio: 0,
  });
});

after(async () => {
  await tracing.shutdown();
  rmSync(root, { recursive: true, force: true });
});

describe("sample ratio 0", () => {
  it("records no new trace but follows a sampled caller; only recorded spans' ids reach the logs", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      component: "test",
      level: "info",
      destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
    });
    await withSpan("unsampled-root", {}, async () =>
      withSpan("unsampled-child", {}, async () => logger.info("unsampled")),
    );
    const caller = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "b7ad6b7169203331",
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    await context.with(caller, () => withSpan("sampled-by-caller", {}, async () => logger.info("sampled")));
    await tracing.forceFlush();

    const spans = existsSync(spanFile)
      ? readFileSync(spanFile, "utf8")
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line) as SpanRecord)
      : [];
    assert.deepEqual(
      spans.map((span) => [span.name, span.traceId, span.parentSpanId]),
      [["sampled-by-caller", "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"]],
    );
    assert.equal(lines[0]!.traceId, undefined);
    assert.equal(lines[1]!.traceId, "0af7651916cd43dd8448eb211c80319c");
  });
});
