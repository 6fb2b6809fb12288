import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface HttpListener {
  /** The bound port (the chosen one when 0 was asked for). */
  readonly port: number;
  /** Stops accepting and drops keep-alive connections, so close never waits on an idle client. */
  close(): Promise<void>;
}

/** Binds a node:http server to host:port; a bind error (port in use) rejects instead of being emitted. */
export async function startHttpListener(
  host: string,
  port: number,
  handle: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<HttpListener> {
  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
