/**
 * pd's configuration: a TOML file, `TESSERA_PD_*` environment variables and `--flags` (highest wins),
 * every key documented here and printed by `npm run pd -- --help`.
 *
 * Ports follow PD's: gRPC (`pdpb.PD`) on 2379; the HTTP API (`/pd/api/v1/...`) together with `/status`,
 * `/metrics` and `/health` on 2378, a separate port because our gRPC server does not also speak HTTP/1.
 */

import { LOG_LEVELS, tracingConfigSchema } from "#observability";
import { type ConfigValues, defineConfigSchema } from "#runtime";
import { scheduleConfigSchema } from "./schedule/index.ts";

export const PD_ENV_PREFIX = "TESSERA_PD_";

export const pdConfigSchema = defineConfigSchema({
  name: {
    type: "string",
    default: "pd",
    doc: "Member name, unique among the pd members of one cluster; shown in GetMembers and logs.",
  },
  "data-dir": {
    type: "string",
    default: "data/pd",
    doc: "Directory of the embedded metadata store, used when etcd.endpoints is empty.",
  },
  "listen-host": {
    type: "string",
    default: "127.0.0.1",
    doc: "Interface both ports bind to; 0.0.0.0 in containers (then set the advertise URLs).",
  },
  "client-port": {
    type: "int",
    default: 2379,
    min: 0,
    max: 65535,
    doc: "gRPC port of the pdpb.PD service; 0 picks a free port (tests).",
  },
  "http-port": {
    type: "int",
    default: 2378,
    min: 0,
    max: 65535,
    doc: "HTTP port of the pd API (/pd/api/v1/...), /status, /metrics and /health; 0 picks a free port.",
  },
  "advertise-client-url": {
    type: "string",
    default: "",
    doc: "gRPC URL other processes use to reach this member, e.g. http://pd-0.pd:2379; empty means http://<listen-host>:<client-port>.",
  },
  "advertise-http-url": {
    type: "string",
    default: "",
    doc: "HTTP API URL other processes use to reach this member; empty means http://<listen-host>:<http-port>.",
  },
  "etcd.endpoints": {
    type: "string-list",
    default: [],
    doc: "etcd client URLs; when set, metadata lives in etcd and the pd members elect a leader there. Empty selects the embedded store (a single pd).",
  },
  "etcd.root-path": {
    type: "string",
    default: "/tessera/pd",
    doc: "etcd key prefix under which this cluster's metadata and leader key live.",
  },
  "etcd.lease-ttl": {
    type: "duration",
    default: "3s",
    doc: "Lease of the pd leader key; a crashed leader is replaced within about this long. Whole seconds.",
  },
  "tso.window": {
    type: "duration",
    default: "3s",
    doc: "How far ahead of the clock the leader persists its timestamp window; a new leader starts above it.",
  },
  "tso.update-interval": {
    type: "duration",
    default: "50ms",
    doc: "How often the leader moves timestamps' physical part to the wall clock and extends the window.",
  },
  "id.block-size": {
    type: "int",
    default: 1000,
    min: 1,
    doc: "Ids reserved per metadata write; a crash skips at most this many ids.",
  },
  "store.disconnect-duration": {
    type: "duration",
    default: "20s",
    doc: "A store without a heartbeat for this long is shown as disconnected.",
  },
  "store.down-duration": {
    type: "duration",
    default: "30m",
    doc: "A store without a heartbeat for this long is down: its replicas are rebuilt on other stores.",
  },
  "schedule.interval": {
    type: "duration",
    default: "1s",
    doc: "How often the leader runs the replica checker and the schedulers.",
  },
  ...scheduleConfigSchema,
  "log.level": {
    type: "enum",
    values: LOG_LEVELS,
    default: "info",
    doc: "Lowest log level written (JSON lines on stdout).",
  },
  ...tracingConfigSchema,
});

export type PdConfig = ConfigValues<typeof pdConfigSchema>;
