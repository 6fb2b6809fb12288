export const PD_USAGE = `Usage: npm run ctl -- pd <subcommand> [--pd URL] [--json]

Inspects and steers pd through its HTTP API (tso uses the gRPC pd client).

Subcommands:
  store [list]                      stores with health, load and last heartbeat
  store show ID | store ID          one store in detail
  store delete ID                   start removing a store (offline, then tombstone)
  store evict-leader ID             move every region leader off a store
  store stop-evict-leader ID        stop doing so
  region [list] [--limit N]         regions in key order (pd's default limit 1000; 0 = all)
  region show ID | region ID        one region in detail
  region key KEY [--hex]            the region holding KEY (UTF-8 text, or hex with --hex)
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
  health                            whether each pd member is healthy
  tso                               one timestamp from the pd leader

Options:
  --pd URL     pd HTTP API address [http://127.0.0.1:2378]; a follower redirects to the leader
  --json       print pd's JSON instead of tables (for scripts)
  -h, --help   this help

Exit status: 0 on success, 1 when pd is unreachable or refuses, 2 on a wrong command line.`;
