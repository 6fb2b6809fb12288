/** The ctl help text; every command's --help prints it (playground has its own). */
import { DEFAULT_PD_HTTP_URL } from "../http.ts";
import { PD_ADDRESS_ENV } from "./command-line.ts";
import { DEFAULT_SCAN_LIMIT, MAX_SCAN_LIMIT } from "./kv/kv-request.ts";
import { DEFAULT_LOCK_LIMIT, MAX_LOCK_LIMIT } from "./txn/txn-request.ts";

export const CTL_USAGE = `Usage: npm run ctl -- <command> [arguments] [--pd URL] [--json]

Cluster:
  cluster health                    pd members, stores up/down, regions without a leader; exit 1 if unhealthy
  store [list]                      stores with health, load and last heartbeat
  store show ID | store ID          one store in detail
  store delete ID                   start removing a store (offline, then tombstone)
  store evict-leader ID             move every region leader off a store
  store stop-evict-leader ID        stop doing so
  region [list] [--limit N]         regions in key order (pd's default limit 1000; 0 = all)
  region show ID | region ID        one region in detail
  region key KEY                    the region holding KEY
  operator [list]                   running and recently finished operators
  operator add transfer-leader REGION STORE
  operator add add-peer REGION STORE
  operator add remove-peer REGION STORE
  operator add split REGION [HEX_KEY...]
                                    ("add" may be left out)
  scheduler [list]                  schedulers and whether they are paused
  scheduler pause NAME SECONDS      pause a scheduler
  scheduler resume NAME             resume it
  member                            pd members and the leader
  tso                               one timestamp from the pd leader

Raw key-value data (through the storage client, like an application):
  kv get KEY                        the value of KEY; exit 1 when it is absent
  kv put KEY VALUE                  write KEY
  kv delete KEY                     delete KEY
  kv scan [--start KEY] [--end KEY] [--limit N] [--reverse]
                                    pairs in [start, end) in key order (empty = unbounded);
                                    --limit 1-${MAX_SCAN_LIMIT} [${DEFAULT_SCAN_LIMIT}]; --reverse: the last ones, largest first

Transactions (what each region's leader stores, tikv-ctl style):
  txn locks [--region ID] [--max-ts TS] [--limit N]
                                    locks in key order, region by region: the transaction, its primary,
                                    type, TTL and timestamps; --region: only the keys of region ID;
                                    --max-ts: only locks with start_ts <= TS [every lock];
                                    --limit 1-${MAX_LOCK_LIMIT} [${DEFAULT_LOCK_LIMIT}]
  txn mvcc KEY                      KEY's lock, write records (newest first) and default-CF values;
                                    exit 1 when it has none
  gc status                         pd's GC safe point and the GC worker holding the lease
  gc run [--life-time D]            one GC round now at safe point = now - D [10m]: resolve older locks,
                                    publish the safe point, drop unreadable versions; exit 1 when another
                                    worker holds the lease

Local cluster:
  playground [options]              start pd and stores on 127.0.0.1 (npm start); \`playground --help\`
  playground stop                   stop a detached playground

Options:
  --pd URL                 pd HTTP API address [$${PD_ADDRESS_ENV}, else ${DEFAULT_PD_HTTP_URL}];
                           a follower redirects to the leader; kv, txn and tso find pd's gRPC addresses from it
  --json                   print JSON instead of tables (for scripts)
  --key-format utf8|hex    how KEY, --start and --end are read and keys printed [utf8] (kv, txn, region key)
  --value-format utf8|hex  how VALUE is read and values printed [utf8] (kv, txn mvcc)
  -h, --help               this help

\`pd <command>\` is an alias of each command above that talks to pd (pd-ctl style), plus \`pd health\`
(whether each pd member answers).
Exit status: 0 on success, 1 when pd or a store is unreachable or refuses (or the answer is bad news, as
above), 2 on a wrong command line.`;
