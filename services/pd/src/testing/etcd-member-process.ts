// Spawned by etcd-backend.test.ts: one pd member on etcd that reports its leadership over IPC until the
// parent kills it with SIGKILL (a crash: no resign, no lease revoke).
import { createLogger } from "#observability";
import { openEtcdBackend } from "../storage/etcd-backend.ts";
import { numberedMember } from "./storage-fixtures.ts";

const [endpoint, rootPath, index] = process.argv.slice(2);
if (!endpoint || !rootPath || !index || !process.send)
  throw new Error("usage: <endpoint> <root path> <member index>");
const backend = await openEtcdBackend({
  endpoints: [endpoint],
  rootPath,
  self: numberedMember(Number(index)),
  leaseTtlSeconds: 1,
  logger: createLogger({ component: "pd", level: "error" }),
});
const report = () => process.send?.({ isLeader: backend.election.isLeader });
backend.election.onLeadershipChange(report);
report();
// The parent kills us; this bound only stops an orphan from living forever.
setTimeout(() => process.exit(1), 120_000);
