/**
 * Picks the playground's ports on 127.0.0.1: each preferred port when it is free, otherwise one the
 * kernel hands out. Every probe listener stays open until all ports are chosen, so the answer never
 * contains the same port twice. A process may still take a port between this check and the child's
 * bind; the child then exits and the launcher reports it with the log file.
 */
import { createServer, type Server } from "node:net";
import { InvariantError } from "#runtime";
import { CommandError } from "../../cli-errors.ts";

export const PLAYGROUND_HOST = "127.0.0.1";

/** Neither a preferred port nor any port the kernel hands out could be bound. */
export class NoFreePortError extends CommandError {
  constructor(readonly host: string) {
    super(`no free port on ${host}`);
  }
}

export async function allocatePorts(preferred: readonly number[]): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (const port of preferred) {
      const server = (await listen(port)) ?? (await listen(0));
      if (server === undefined) throw new NoFreePortError(PLAYGROUND_HOST);
      servers.push(server);
      ports.push(boundPort(server));
    }
    return ports;
  } finally {
    await Promise.all(servers.map(close));
  }
}

/** The listening server, or undefined when the port is taken or not ours to bind. */
function listen(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(undefined));
    server.listen({ host: PLAYGROUND_HOST, port, exclusive: true }, () => resolve(server));
  });
}

function boundPort(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === "string")
    throw new InvariantError("probe server has no TCP address");
  return address.port;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
