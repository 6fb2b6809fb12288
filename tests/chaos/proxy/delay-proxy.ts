/**
 * A TCP proxy that adds latency, for the chaos harness's `delay` fault (these kernels have no `tc netem`).
 * It runs inside a store's namespace on the address the store advertises and forwards to the store's real
 * listener, holding every chunk in both directions back by the current delay (so a round trip grows by
 * twice that). The delay is set over HTTP: `PUT /delay?ms=N` on the control address; 0 passes traffic
 * straight through.
 *
 *   node --import tsx tests/chaos/proxy/delay-proxy.ts --listen HOST:PORT --target HOST:PORT --control HOST:PORT
 *
 * Prints `{"msg":"proxy ready",...}` once both listeners are bound.
 */
import { createServer as createHttpServer } from "node:http";
import { connect, createServer, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { DelayedPipe } from "./delayed-pipe.ts";

interface Endpoint {
  readonly host: string;
  readonly port: number;
}

function parseEndpoint(flag: string, value: string | undefined): Endpoint {
  const match = /^(.+):(\d+)$/.exec(value ?? "");
  if (match === null) throw new Error(`--${flag} must be HOST:PORT, got ${JSON.stringify(value)}`);
  return { host: match[1]!, port: Number(match[2]) };
}

const { values } = parseArgs({
  options: { listen: { type: "string" }, target: { type: "string" }, control: { type: "string" } },
});
const listen = parseEndpoint("listen", values.listen);
const target = parseEndpoint("target", values.target);
const control = parseEndpoint("control", values.control);

let delayMs = 0;
const connections = new Set<Socket>();

const proxy = createServer({ noDelay: true }, (client) => {
  const upstream = connect({ ...target, noDelay: true });
  const pipes = [
    new DelayedPipe(client, upstream, () => delayMs),
    new DelayedPipe(upstream, client, () => delayMs),
  ];
  const close = () => {
    for (const pipe of pipes) pipe.discard();
    client.destroy();
    upstream.destroy();
    connections.delete(client);
    connections.delete(upstream);
  };
  connections.add(client);
  connections.add(upstream);
  // A refused or reset upstream (the store was killed) closes the client's side too, as a dead store would.
  for (const socket of [client, upstream]) {
    socket.on("error", close);
    socket.on("close", close);
  }
});

const controller = createHttpServer((request, response) => {
  const url = new URL(request.url ?? "/", "http://proxy");
  const ms = Number(url.searchParams.get("ms"));
  if (request.method !== "PUT" || url.pathname !== "/delay" || !Number.isFinite(ms) || ms < 0) {
    response.writeHead(400).end("PUT /delay?ms=N with N >= 0\n");
    return;
  }
  delayMs = ms;
  response.writeHead(204).end();
});

function listenOn(
  server: ReturnType<typeof createServer> | ReturnType<typeof createHttpServer>,
  at: Endpoint,
) {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(at.port, at.host, () => resolve());
  });
}

await Promise.all([listenOn(proxy, listen), listenOn(controller, control)]);
process.stdout.write(
  `${JSON.stringify({ msg: "proxy ready", listen: values.listen, target: values.target })}\n`,
);

process.on("SIGTERM", () => {
  for (const socket of connections) socket.destroy();
  proxy.close();
  controller.close();
});
