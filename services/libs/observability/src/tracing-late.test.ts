/**
 * The failure `grpcInstrumented` exists for, in its own process: grpc-js imported before the
 * instrumentation is installed cannot be patched any more, and tracing says so instead of failing quietly.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { Server } from "@grpc/grpc-js";
import { instrumentGrpc } from "./tracing.ts";

it("reports that grpc-js was loaded before the instrumentation", async () => {
  assert.equal(typeof Server, "function", "grpc-js is loaded");
  assert.equal(await instrumentGrpc(), false);
});
