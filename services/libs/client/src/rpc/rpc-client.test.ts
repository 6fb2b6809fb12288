import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createRegistry, MetricFactory } from "#observability";
import type { tikvpb } from "#proto";
import { SeededRandom, sleep, systemTimers, type TimerHandle, type Timers } from "#runtime";
import { echoHandler, NO_ANSWER, TestBatchServer } from "../testing/batch-server.ts";
import { unusedAddress } from "../testing/unused-address.ts";
import { RpcClient } from "./rpc-client.ts";
import type { RpcClientOptions } from "./rpc-client-options.ts";
import {
  RpcClientClosedError,
  RpcProtocolError,
  RpcQueueFullError,
  RpcTimeoutError,
  StoreUnavailableError,
} from "./rpc-errors.ts";

const LONG_TIMEOUT_MS = 30_000;

function ping(testId: number): tikvpb.BatchCommandsRequest_Request {
  return { cmd: { $case: "empty", value: { testId: BigInt(testId) } } };
}

function testIdOf(response: tikvpb.BatchCommandsResponse_Response): bigint | undefined {
  return response.cmd?.$case === "empty" ? response.cmd.value.testId : undefined;
}

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  for (let attempt = 0; attempt < 1000; attempt++) {
    if (condition()) return;
    await sleep(10);
  }
  assert.fail(`timed out waiting until ${what}`);
}

/** Settles every promise and sorts the outcomes, so a test can assert how each request ended. */
async function outcomes(promises: readonly Promise<unknown>[]): Promise<{ ok: number; errors: unknown[] }> {
  const settled = await Promise.allSettled(promises);
  const errors = settled.flatMap((result) => (result.status === "rejected" ? [result.reason] : []));
  return { ok: settled.length - errors.length, errors };
}

/** Real timers that count how many are still armed, so a test can prove `close` leaves none behind. */
class CountingTimers implements Timers {
  armed = 0;

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    this.armed++;
    let live = true;
    const finish = (): void => {
      if (live) this.armed--;
      live = false;
    };
    const handle = systemTimers.setTimeout(() => {
      finish();
      callback();
    }, delayMs);
    return {
      cancel: () => {
        finish();
        handle.cancel();
      },
    };
  }

  setInterval(): TimerHandle {
    throw new Error("the RPC client arms no intervals");
  }
}

/** Timers the test fires by hand, so a wait window can be closed at a chosen moment. */
class ManualTimers implements Timers {
  private readonly armed = new Set<{ readonly delayMs: number; readonly callback: () => void }>();

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer = { delayMs, callback };
    this.armed.add(timer);
    return { cancel: () => this.armed.delete(timer) };
  }

  setInterval(): TimerHandle {
    throw new Error("the RPC client arms no intervals");
  }

  /** Fires (once) every armed timer with exactly this delay. */
  fire(delayMs: number): void {
    for (const timer of [...this.armed]) {
      if (timer.delayMs !== delayMs) continue;
      this.armed.delete(timer);
      timer.callback();
    }
  }
}

describe("RpcClient", () => {
  let server: TestBatchServer;
  let client: RpcClient | undefined;

  beforeEach(async () => {
    server = await TestBatchServer.start();
  });

  afterEach(() => {
    client?.close();
    client = undefined;
    server.stop();
  });

  function connect(options: RpcClientOptions = {}): RpcClient {
    client = new RpcClient({ random: new SeededRandom(7), ...options });
    return client;
  }

  it("answers each request with the response carrying its id", async () => {
    const rpc = connect();
    const responses = await Promise.all(
      [1, 2, 3].map((id) => rpc.send(server.address, ping(id), { timeoutMs: LONG_TIMEOUT_MS })),
    );
    assert.deepEqual(responses.map(testIdOf), [1n, 2n, 3n]);
    const typed = await rpc.call(server.address, "empty", { testId: 9n }, { timeoutMs: LONG_TIMEOUT_MS });
    assert.equal(typed.testId, 9n);
  });

  it("rejects an answer of another command with RpcProtocolError", async () => {
    const rpc = connect();
    server.handler = () => ({ cmd: { $case: "empty", value: { testId: 0n } } });
    await assert.rejects(
      rpc.call(
        server.address,
        "rawGet",
        { context: undefined, key: new Uint8Array([1]) },
        { timeoutMs: 5000 },
      ),
      RpcProtocolError,
    );
  });

  it("batches many concurrent requests into few stream messages", async () => {
    const rpc = connect({ connectionsPerStore: 4, maxBatchSize: 128 });
    const count = 1000;
    const responses = await Promise.all(
      Array.from({ length: count }, (_, id) =>
        rpc.send(server.address, ping(id), { timeoutMs: LONG_TIMEOUT_MS }),
      ),
    );
    assert.deepEqual(
      responses.map(testIdOf),
      Array.from({ length: count }, (_, id) => BigInt(id)),
    );
    assert.equal(server.requestsReceived, count);
    assert.ok(
      server.maxRequestsPerMessage <= 128,
      `a message carried ${server.maxRequestsPerMessage} requests`,
    );
    assert.ok(server.messagesReceived <= 12, `${count} requests took ${server.messagesReceived} messages`);
    assert.ok(server.streamsOpened <= 4);
  });

  it("holds requests for maxBatchWaitMs so requests from several turns share one message", async () => {
    const timers = new ManualTimers();
    const rpc = connect({ maxBatchWaitMs: 10, timers });
    const requests: Promise<tikvpb.BatchCommandsResponse_Response>[] = [];
    for (let id = 0; id < 3; id++) {
      requests.push(rpc.send(server.address, ping(id), { timeoutMs: LONG_TIMEOUT_MS }));
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(server.messagesReceived, 0, "nothing leaves before the wait window closes");
    timers.fire(10);
    assert.deepEqual((await Promise.all(requests)).map(testIdOf), [0n, 1n, 2n]);
    assert.equal(server.messagesReceived, 1);
    assert.equal(server.maxRequestsPerMessage, 3);
  });

  it("fails every in-flight request at once when its stream dies, long before their deadlines", async () => {
    const rpc = connect({ connectionsPerStore: 2 });
    server.handler = () => NO_ANSWER;
    const requests = Array.from({ length: 50 }, (_, id) =>
      rpc.send(server.address, ping(id), { timeoutMs: LONG_TIMEOUT_MS }),
    );
    await waitUntil(() => server.requestsReceived === 50, "the store holds all 50 requests");
    server.killStreams();
    const { ok, errors } = await outcomes(requests);
    assert.equal(ok, 0);
    assert.equal(errors.length, 50);
    for (const error of errors) {
      assert.ok(error instanceof StoreUnavailableError, String(error));
      assert.equal(error.mayHaveRun, true, "the store held these requests: they may have run");
    }

    // The broken connections rest, then carry requests again.
    server.handler = echoHandler;
    await waitUntil(() => server.openStreams === 0, "the killed streams are gone");
    let answered: tikvpb.BatchCommandsResponse_Response | undefined;
    for (let attempt = 0; attempt < 100 && answered === undefined; attempt++) {
      answered = await rpc
        .send(server.address, ping(77), { timeoutMs: 5000 })
        .catch(async (error: unknown) => {
          assert.ok(error instanceof StoreUnavailableError, String(error));
          await sleep(20);
          return undefined;
        });
    }
    assert.equal(answered === undefined ? undefined : testIdOf(answered), 77n);
  });

  it("never strands a request that races an idle recycle", async () => {
    const registry = createRegistry("test");
    const rpc = connect({
      connectionsPerStore: 2,
      idleTimeoutMs: 1,
      metrics: new MetricFactory(registry, "test"),
    });
    const random = new SeededRandom(42);
    const delays = Array.from({ length: 4 }, () => Array.from({ length: 150 }, () => random.intBelow(4)));
    // Four loops, each sending then pausing around the 1 ms idle timeout, so sends keep landing just
    // before, on and after the moment their connection is recycled.
    const loops = delays.map(async (pauses, loop) => {
      for (const [iteration, pauseMs] of pauses.entries()) {
        const response = await rpc.send(server.address, ping(loop * 1000 + iteration), { timeoutMs: 5000 });
        assert.equal(testIdOf(response), BigInt(loop * 1000 + iteration));
        if (pauseMs > 0) await sleep(pauseMs);
      }
    });
    await Promise.all(loops);
    const recycled = (
      await registry.getSingleMetric("test_tikvclient_stream_events_total")?.get()
    )?.values.find((value) => value.labels.event === "recycled");
    assert.ok(
      (recycled?.value ?? 0) > 10,
      `only ${recycled?.value ?? 0} recycles; the race was not exercised`,
    );
    assert.ok(server.streamsOpened > 10);
  });

  it("recovers the same client instance after the store restarts on the same port", async () => {
    const rpc = connect();
    assert.equal(testIdOf(await rpc.send(server.address, ping(1), { timeoutMs: 5000 })), 1n);

    server.stop();
    await assert.rejects(
      rpc.send(server.address, ping(2), { timeoutMs: LONG_TIMEOUT_MS }),
      StoreUnavailableError,
    );
    // With every stream resting after the break, a request fails fast instead of waiting out its deadline.
    await assert.rejects(
      rpc.send(server.address, ping(3), { timeoutMs: LONG_TIMEOUT_MS }),
      StoreUnavailableError,
    );

    await server.restart();
    let recovered: bigint | undefined;
    for (let attempt = 0; attempt < 100 && recovered === undefined; attempt++) {
      try {
        recovered = testIdOf(await rpc.send(server.address, ping(4), { timeoutMs: 5000 }));
      } catch (error) {
        assert.ok(error instanceof StoreUnavailableError, String(error));
        await sleep(50);
      }
    }
    assert.equal(recovered, 4n);
  });

  it("reports a deadline as RpcTimeoutError without breaking the stream", async () => {
    const rpc = connect({ connectionsPerStore: 1 });
    assert.equal(testIdOf(await rpc.send(server.address, ping(1), { timeoutMs: 5000 })), 1n);
    server.handler = () => NO_ANSWER;
    const error = await rpc
      .send(server.address, ping(2), { timeoutMs: 50 })
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof RpcTimeoutError, String(error));
    assert.equal(error.sent, true);
    assert.equal(error.command, "empty");

    server.handler = echoHandler;
    assert.equal(testIdOf(await rpc.send(server.address, ping(3), { timeoutMs: 5000 })), 3n);
    assert.equal(server.streamsOpened, 1, "a timeout must not close or reopen the stream");
  });

  it("reports a refused connection as StoreUnavailableError, not a timeout", async () => {
    const rpc = connect();
    const error = await rpc
      .send(await unusedAddress(), ping(1), { timeoutMs: LONG_TIMEOUT_MS })
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof StoreUnavailableError, String(error));
    assert.equal(error.mayHaveRun, false, "the connection never came up, so the request never left");
  });

  it("bounds requests in flight per stream and queued per store", async () => {
    const rpc = connect({ connectionsPerStore: 2, maxInFlightPerStream: 8, maxPendingRequestsPerStore: 20 });
    const held: Array<() => void> = [];
    server.handler = (request) =>
      new Promise((resolve) =>
        held.push(() => resolve(echoHandler(request) as tikvpb.BatchCommandsResponse_Response)),
      );
    // Settled from the start: the requests over the queue bound reject before the test looks at them.
    const settled = outcomes(
      Array.from({ length: 60 }, (_, id) =>
        rpc.send(server.address, ping(id), { timeoutMs: LONG_TIMEOUT_MS }),
      ),
    );
    await waitUntil(() => server.requestsReceived === 16, "both streams are full");
    // Answer in rounds: each answer frees room for a queued request, never more than the bounds allow.
    for (let round = 0; round < 20 && held.length > 0; round++) {
      for (const answer of held.splice(0)) answer();
      await sleep(20);
    }
    server.handler = echoHandler;
    for (const answer of held.splice(0)) answer();
    const { ok, errors } = await settled;
    assert.equal(ok, 20, "the first 20 were queued and all eventually answered");
    assert.equal(errors.length, 40);
    for (const error of errors) assert.ok(error instanceof RpcQueueFullError, String(error));
    assert.ok(
      server.maxOutstandingPerStream <= 8,
      `a stream had ${server.maxOutstandingPerStream} in flight`,
    );
    assert.ok(server.maxOutstandingTotal <= 16, `the store had ${server.maxOutstandingTotal} in flight`);
  });

  it("close fails queued and in-flight requests and leaves no timer armed", async () => {
    const timers = new CountingTimers();
    const rpc = connect({ connectionsPerStore: 1, maxInFlightPerStream: 4, timers, idleTimeoutMs: 60_000 });
    server.handler = () => NO_ANSWER;
    const requests = Array.from({ length: 10 }, (_, id) =>
      rpc.send(server.address, ping(id), { timeoutMs: LONG_TIMEOUT_MS }),
    );
    await waitUntil(() => server.requestsReceived === 4, "the stream is full");
    assert.equal(timers.armed, 10, "one deadline per request");
    rpc.close();
    const { ok, errors } = await outcomes(requests);
    assert.equal(ok, 0);
    for (const error of errors) assert.ok(error instanceof RpcClientClosedError, String(error));
    assert.equal(timers.armed, 0);
    await assert.rejects(rpc.send(server.address, ping(11), { timeoutMs: 1000 }), RpcClientClosedError);
  });
});
