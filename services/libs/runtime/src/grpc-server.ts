/**
 * Binding a `@grpc/grpc-js` server and stopping it, shared by pd and the store.
 *
 * Imported as `#runtime/grpc-server`, deliberately not re-exported from `#runtime`: every service's
 * `main.ts` imports `#runtime` statically, before `instrumentGrpc()` runs, and loading grpc-js that early
 * would leave gRPC untraced (docs/architecture.md, "Tracing gRPC under ESM"). Only the servers, which
 * `main` loads with `import()` after tracing is set up, import this module.
 */
import { type Server, ServerCredentials } from "@grpc/grpc-js";
import { sleep, type Timers } from "./clock.ts";

/**
 * `host` is bare, IPv6 unbracketed, as node:http takes it, so one setting serves a service's HTTP and gRPC
 * listeners. Resolves to the bound port: the chosen one when 0 was asked for.
 */
export function bindGrpcServer(server: Server, host: string, port: number): Promise<number> {
  // grpc-js parses the target as a URI authority, where an IPv6 host must be bracketed.
  const authorityHost = host.includes(":") ? `[${host}]` : host;
  return new Promise((resolve, reject) => {
    server.bindAsync(`${authorityHost}:${port}`, ServerCredentials.createInsecure(), (error, boundPort) =>
      error ? reject(error) : resolve(boundPort),
    );
  });
}

/**
 * Lets calls in flight finish for up to `graceMs`, then cuts off whatever is left: long-lived streams
 * (raft, BatchCommands, TSO, heartbeats) never finish on their own, so a graceful shutdown alone would
 * never complete.
 */
export async function shutdownGrpcServer(server: Server, graceMs: number, timers: Timers): Promise<void> {
  const graceful = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  const graceOver = new AbortController();
  const grace = sleep(graceMs, timers, graceOver.signal).catch((error: unknown) => {
    // Cut short below when the server drained first; a sleep fails only that way.
    if (error !== graceOver.signal.reason) throw error;
  });
  await Promise.race([graceful, grace]);
  graceOver.abort();
  server.forceShutdown();
}
