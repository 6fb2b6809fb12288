/** Test-only: an address on 127.0.0.1 where nothing listens (a port just bound and released). */
import { createServer } from "node:net";

export async function unusedAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("expected a TCP address");
  return `127.0.0.1:${address.port}`;
}
