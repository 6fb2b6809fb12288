/**
 * Child process of `server/store-close.test.ts`: runs a pd and a store in this process, writes through the
 * raw client over gRPC (replication, heartbeats, pd operators and background jobs all run), closes
 * everything, and reports what is still alive. It never calls process.exit: the parent also checks that
 * the process ends on its own, which no ref'd timer, socket or handle left behind would allow.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RawKvClient } from "#client";
import { startStore, storeOptionsWithDefaults } from "../server/store-server.ts";
import { startTestPd } from "./in-process-pd.ts";

const root = mkdtempSync(join(tmpdir(), "tessera-close-leak-"));
try {
  const pd = await startTestPd(join(root, "pd"));
  const store = await startStore(
    storeOptionsWithDefaults({
      dataDir: join(root, "store"),
      listenAddress: "127.0.0.1:0",
      statusListenAddress: "127.0.0.1:0",
      pdEndpoints: [pd.clientUrl],
      storeHeartbeatIntervalMs: 100,
      regionHeartbeatIntervalMs: 100,
      logLevel: "silent",
    }),
  );
  const client = await RawKvClient.connect({ pdEndpoints: [pd.clientUrl] });
  for (let index = 0; index < 50; index++) {
    await client.put(Buffer.from(`key-${index}`), Buffer.from(`value-${index}`));
  }
  const read = await client.get(Buffer.from("key-49"));
  await client.close();
  await store.close();
  await pd.close();
  const report = {
    read: read === undefined ? undefined : Buffer.from(read).toString(),
    backgroundTasks: store.store.backgroundTasks,
    resources: process.getActiveResourcesInfo(),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
