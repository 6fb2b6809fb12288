import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Counter, Registry } from "prom-client";
import type { Clock } from "./clock.ts";
import { MAX_REQUEST_BODY_BYTES, type StatusServer, startStatusServer } from "./status-server.ts";

class SteppingClock implements Clock {
  monotonic = 1_000;
  nowMs(): number {
    return Date.UTC(2024, 0, 2, 3, 4, 5);
  }
  monotonicMs(): number {
    return this.monotonic;
  }
}

describe("startStatusServer", () => {
  const registry = new Registry();
  const requests = new Counter({
    name: "pd_server_requests_total",
    help: "Requests served.",
    registers: [registry],
  });
  const clock = new SteppingClock();
  let healthy = true;
  let server: StatusServer;
  let base: string;

  before(async () => {
    server = await startStatusServer({
      host: "127.0.0.1",
      port: 0,
      component: "pd",
      version: "0.1.0",
      gitHash: "abc123",
      status: () => ({ leader: true, clusterId: 7n, component: "overridden?" }),
      healthy: () => healthy,
      metrics: registry,
      clock,
      extraRoutes: [
        {
          method: "POST",
          path: "/fail/point",
          handle: (request) => ({ status: 201, body: { received: request.body, query: request.url.search } }),
        },
        {
          method: "GET",
          path: "/broken",
          handle: () => {
            throw new Error("handler exploded");
          },
        },
      ],
    });
    base = `http://127.0.0.1:${server.port}`;
  });

  after(async () => {
    await server?.close();
  });

  it("serves /status with identity, start time, uptime and the status fields", async () => {
    clock.monotonic += 2_500;
    const response = await fetch(`${base}/status`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /application\/json/);
    assert.deepEqual(await response.json(), {
      leader: true,
      clusterId: "7",
      component: "pd",
      version: "0.1.0",
      gitHash: "abc123",
      startTime: "2024-01-02T03:04:05.000Z",
      uptimeMs: 2_500,
    });
  });

  it("serves /metrics in the Prometheus text format", async () => {
    requests.inc(3);
    const response = await fetch(`${base}/metrics`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), registry.contentType);
    const text = await response.text();
    assert.match(text, /^# TYPE pd_server_requests_total counter$/m);
    assert.match(text, /^pd_server_requests_total 3$/m);
  });

  it("answers /health with 200 or 503 by the callback", async () => {
    healthy = true;
    const ok = await fetch(`${base}/health`);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { status: "ok" });
    healthy = false;
    const unhealthy = await fetch(`${base}/health`);
    assert.equal(unhealthy.status, 503);
    assert.deepEqual(await unhealthy.json(), { status: "unhealthy" });
    healthy = true;
  });

  it("answers unknown paths with a 404 JSON body", async () => {
    const response = await fetch(`${base}/nope`);
    assert.equal(response.status, 404);
    assert.deepEqual(await response.json(), { error: "no route for /nope" });
  });

  it("answers other methods with 405 and an allow header", async () => {
    const response = await fetch(`${base}/status`, { method: "POST", body: "x" });
    assert.equal(response.status, 405);
    assert.equal(response.headers.get("allow"), "GET");
    const body = (await response.json()) as { readonly error: string };
    assert.match(body.error, /method POST is not allowed on \/status/);
  });

  it("routes extra routes with their method, body and query", async () => {
    const response = await fetch(`${base}/fail/point?arm=panic`, { method: "POST", body: "payload" });
    assert.equal(response.status, 201);
    assert.deepEqual(await response.json(), { received: "payload", query: "?arm=panic" });
    const wrongMethod = await fetch(`${base}/fail/point`);
    assert.equal(wrongMethod.status, 405);
  });

  it("turns a throwing handler into a 500 JSON body and keeps serving", async () => {
    const response = await fetch(`${base}/broken`);
    assert.equal(response.status, 500);
    assert.deepEqual(await response.json(), { error: "handler exploded" });
    assert.equal((await fetch(`${base}/health`)).status, 200);
  });

  it("rejects request bodies over the limit with 413", async () => {
    const response = await fetch(`${base}/fail/point`, {
      method: "POST",
      body: "x".repeat(MAX_REQUEST_BODY_BYTES + 1),
    });
    assert.equal(response.status, 413);
  });
});

describe("startStatusServer lifecycle", () => {
  it("rejects when the port is taken and closes despite keep-alive clients", async () => {
    const first = await startStatusServer({
      host: "127.0.0.1",
      port: 0,
      component: "store",
      version: "0",
      metrics: new Registry(),
    });
    try {
      await assert.rejects(
        startStatusServer({
          host: "127.0.0.1",
          port: first.port,
          component: "store",
          version: "0",
          metrics: new Registry(),
        }),
        /EADDRINUSE/,
      );
      const response = await fetch(`http://127.0.0.1:${first.port}/status`);
      const body = (await response.json()) as { readonly gitHash: string };
      assert.equal(body.gitHash, "unknown");
    } finally {
      await first.close();
    }
    await assert.rejects(fetch(`http://127.0.0.1:${first.port}/status`));
  });
});
