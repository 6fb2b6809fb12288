import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { test } from "node:test";
import { allocatePorts, PLAYGROUND_HOST } from "./port-allocator.ts";

function listenOnFreePort(): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, PLAYGROUND_HOST, () => resolve(server));
  });
}

function portOf(server: Server): number {
  return (server.address() as { port: number }).port;
}

test("a preferred port that is free is kept, a taken one is replaced, and no port repeats", async () => {
  const taken = await listenOnFreePort();
  const released = await listenOnFreePort();
  const freePort = portOf(released);
  await new Promise<void>((resolve) => released.close(() => resolve()));
  try {
    const ports = await allocatePorts([freePort, portOf(taken), freePort]);
    assert.equal(ports[0], freePort);
    assert.notEqual(ports[1], portOf(taken));
    assert.equal(new Set(ports).size, 3);
    // The probes are closed again: the chosen ports can be bound by the members.
    const reuse = await allocatePorts([ports[1]!]);
    assert.deepEqual(reuse, [ports[1]]);
  } finally {
    await new Promise<void>((resolve) => taken.close(() => resolve()));
  }
});
