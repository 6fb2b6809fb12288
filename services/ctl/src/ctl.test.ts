import assert from "node:assert/strict";
import { createServer } from "node:net";
import { describe, test } from "node:test";
import type { CliIo } from "./cli-io.ts";
import { PLAYGROUND_USAGE } from "./commands/playground/playground-command.ts";
import { runCtl } from "./ctl.ts";
import type { FetchFunction } from "./http.ts";

interface Run {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly requests: ReadonlyArray<{
    readonly url: string;
    readonly method: string;
    readonly body?: unknown;
  }>;
}

/** Runs ctl with captured output; `answer` plays pd for every HTTP request when given. */
async function ctl(
  argv: string[],
  answer?: (url: string) => { status?: number; body: unknown },
): Promise<Run> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const requests: Array<{ url: string; method: string; body?: unknown }> = [];
  const fakeFetch: FetchFunction = async (url, init) => {
    const body = typeof init?.body === "string" ? JSON.parse(init.body) : undefined;
    requests.push({ url, method: init?.method ?? "GET", body });
    const reply = answer!(url);
    return new Response(JSON.stringify(reply.body), { status: reply.status ?? 200 });
  };
  const io: CliIo = {
    stdout: (text) => stdout.push(text),
    stderr: (text) => stderr.push(text),
    ...(answer === undefined ? {} : { fetch: fakeFetch }),
  };
  const exitCode = await runCtl(argv, io);
  return { exitCode, stdout: stdout.join("\n"), stderr: stderr.join("\n"), requests };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("ctl command line", () => {
  test("playground --help prints the playground usage", async () => {
    const run = await ctl(["playground", "--help"]);
    assert.equal(run.exitCode, 0);
    assert.equal(run.stdout, PLAYGROUND_USAGE);
  });

  test("playground rejects an unknown option with exit code 2", async () => {
    const run = await ctl(["playground", "--storez", "3"]);
    assert.equal(run.exitCode, 2);
    assert.match(run.stderr, /storez/);
  });

  test("pd --help lists every subcommand and exits 0", async () => {
    const run = await ctl(["pd", "--help"]);
    assert.equal(run.exitCode, 0);
    for (const word of ["store", "region", "operator", "scheduler", "member", "health", "tso", "--json"]) {
      assert.match(run.stdout, new RegExp(word));
    }
  });

  test("wrong command lines exit 2 with one line saying what is wrong", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["nonsense"], /unknown command "nonsense"/],
      [["pd"], /missing pd subcommand/],
      [["pd", "stores"], /unknown pd subcommand "stores"/],
      [["pd", "store", "show"], /missing ID/],
      [["pd", "store", "show", "x1"], /store ID must be a positive 64-bit integer, got "x1"/],
      [["pd", "store", "show", "0"], /store ID must be a positive/],
      [["pd", "region", "list", "--limit", "ten"], /--limit must be a whole number/],
      [["pd", "region", "key", "zz", "--hex"], /KEY "zz" is not hex/],
      [["pd", "operator", "add", "transfer-leader", "2"], /missing STORE/],
      [["pd", "operator", "add", "merge", "2", "3"], /unknown operator kind "merge"/],
      [["pd", "operator", "add", "split", "2", "xyz"], /split keys must be non-empty hex/],
      [["pd", "scheduler", "pause", "balance-leader-scheduler", "soon"], /SECONDS must be a positive number/],
      [["pd", "member", "extra"], /unexpected "extra"/],
      [["pd", "store", "--frobnicate"], /Unknown option '--frobnicate'/],
      [["pd", "store", "--pd", "http://[::1"], /--pd must be a URL like http:\/\/127\.0\.0\.1:2378/],
    ];
    for (const [argv, message] of cases) {
      const run = await ctl(argv, () => ({ body: {} }));
      assert.equal(run.exitCode, 2, argv.join(" "));
      assert.match(run.stderr, message, argv.join(" "));
      assert.equal(run.stderr.split("\n").length, 1, argv.join(" "));
      assert.deepEqual(run.requests, [], `${argv.join(" ")} must not reach pd`);
    }
  });

  test("an unreachable pd exits 1 with one line naming the URL", async () => {
    const port = await closedPort();
    const run = await ctl(["pd", "store", "--pd", `http://127.0.0.1:${port}`]);
    assert.equal(run.exitCode, 1);
    assert.equal(run.stderr.split("\n").length, 1);
    assert.match(
      run.stderr,
      new RegExp(`cannot reach pd at http://127\\.0\\.0\\.1:${port}/pd/api/v1/stores: .*ECONNREFUSED`),
    );
  });

  test("--pd also takes a bare host:port", async () => {
    const run = await ctl(["pd", "member", "--pd", "10.0.0.5:2378"], () => ({ body: { members: [] } }));
    assert.equal(run.exitCode, 0, run.stderr);
    assert.equal(run.requests[0]?.url, "http://10.0.0.5:2378/pd/api/v1/members");
  });

  test("a pd error answer exits 1 with pd's message", async () => {
    const run = await ctl(["pd", "store", "9"], () => ({
      status: 404,
      body: { error: "store 9 not found" },
    }));
    assert.equal(run.exitCode, 1);
    assert.match(
      run.stderr,
      /pd answered 404 to GET http:\/\/127\.0\.0\.1:2378\/pd\/api\/v1\/store\/9: store 9 not found/,
    );
  });

  test("--json prints pd's answer; the default is a table", async () => {
    const stores = {
      count: 1,
      stores: [{ id: "4", address: "127.0.0.1:20160", health: "up", region_count: 3 }],
    };
    const json = await ctl(["pd", "store", "list", "--json"], () => ({ body: stores }));
    const table = await ctl(["pd", "store"], () => ({ body: stores }));

    assert.deepEqual(JSON.parse(json.stdout), stores);
    assert.match(table.stdout, /^ID\s+ADDRESS\s+HEALTH/);
    assert.match(table.stdout, /\n 4\s+127\.0\.0\.1:20160\s+up\s+no\s+3/);
  });

  test("operator add sends pd-ctl style bodies with ids as decimal strings", async () => {
    const answer = () => ({ body: { operator: { description: "admin-transfer-leader", regionId: "2" } } });
    const big = "18446744073709551615";
    const transfer = await ctl(["pd", "operator", "add", "transfer-leader", "2", big], answer);
    const addPeer = await ctl(["pd", "operator", "add-peer", "2", "3"], answer);
    const split = await ctl(["pd", "operator", "add", "split", "2", "6b6579"], answer);

    assert.equal(transfer.exitCode, 0);
    assert.deepEqual(transfer.requests, [
      {
        url: "http://127.0.0.1:2378/pd/api/v1/operators",
        method: "POST",
        body: { name: "transfer-leader", region_id: "2", to_store_id: big },
      },
    ]);
    assert.deepEqual(addPeer.requests[0]?.body, { name: "add-peer", region_id: "2", store_id: "3" });
    assert.deepEqual(split.requests[0]?.body, { name: "split-region", region_id: "2", keys: ["6b6579"] });
  });

  test("region key encodes the key into the path, and --hex asks pd to decode hex", async () => {
    const region = () => ({ body: { id: "2", start_key: "", end_key: "" } });
    const text = await ctl(["pd", "region", "key", "user/1 a"], region);
    const hex = await ctl(["pd", "region", "key", "00ff", "--hex"], region);

    assert.equal(text.requests[0]?.url, "http://127.0.0.1:2378/pd/api/v1/region/key/user%2F1%20a");
    assert.equal(hex.requests[0]?.url, "http://127.0.0.1:2378/pd/api/v1/region/key/00ff?format=hex");
    assert.match(text.stdout, /start key\s+-inf/);
  });

  test("--help lists the top-level commands, kv's options and the pd alias", async () => {
    const run = await ctl(["--help"]);
    assert.equal(run.exitCode, 0);
    for (const word of ["cluster health", "store", "region key", "operator add split", "kv scan", "tso"]) {
      assert.ok(run.stdout.includes(word), word);
    }
    for (const word of ["--key-format", "--value-format", "--reverse", "TESSERA_PD_HTTP", "pd <command>"]) {
      assert.ok(run.stdout.includes(word), word);
    }
    assert.equal((await ctl(["kv", "--help"])).stdout, run.stdout);
  });

  test("top-level commands reach the same pd API as their pd aliases", async () => {
    const stores = { count: 0, stores: [] };
    const cases: Array<[string[], string]> = [
      [["store", "list"], "/pd/api/v1/stores"],
      [["region", "show", "7"], "/pd/api/v1/region/id/7"],
      [["region", "key", "6b", "--key-format", "hex"], "/pd/api/v1/region/key/6b?format=hex"],
      [["member"], "/pd/api/v1/members"],
    ];
    for (const [argv, path] of cases) {
      const topLevel = await ctl(argv, () => ({ body: stores }));
      const alias = await ctl(["pd", ...argv], () => ({ body: stores }));
      assert.equal(topLevel.exitCode, 0, `${argv.join(" ")}: ${topLevel.stderr}`);
      assert.equal(topLevel.requests[0]?.url, `http://127.0.0.1:2378${path}`);
      assert.deepEqual(alias.requests, topLevel.requests);
      assert.equal(alias.stdout, topLevel.stdout);
    }
  });

  test("operator add at the top level posts the operator", async () => {
    const run = await ctl(["operator", "add", "remove-peer", "5", "6"], () => ({
      body: { operator: { description: "admin-remove-peer" } },
    }));
    assert.equal(run.exitCode, 0, run.stderr);
    assert.deepEqual(run.requests[0]?.body, { name: "remove-peer", region_id: "5", store_id: "6" });
  });

  test("wrong kv and cluster command lines exit 2 before reaching pd", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["kv"], /missing kv action/],
      [["kv", "fetch", "a"], /unknown kv action "fetch"/],
      [["kv", "get"], /missing KEY/],
      [["kv", "get", ""], /KEY must not be empty/],
      [["kv", "put", "a"], /missing VALUE/],
      [["kv", "delete", "a", "b"], /unexpected "b"/],
      [["kv", "get", "zz", "--key-format", "hex"], /KEY "zz" is not hex/],
      [["kv", "get", "a", "--key-format", "base64"], /--key-format must be utf8 or hex, got "base64"/],
      [["kv", "put", "a", "0g", "--value-format", "hex"], /VALUE "0g" is not hex/],
      [["kv", "get", "a", "--limit", "3"], /kv get does not take --limit; only kv scan does/],
      [["kv", "scan", "--limit", "0"], /--limit must be a whole number from 1 to 100000, got "0"/],
      [["kv", "scan", "--limit", "100001"], /--limit must be a whole number from 1/],
      [["kv", "scan", "--start", "b", "--end", "a"], /--start "b" is after --end "a"/],
      [["kv", "scan", "extra"], /unexpected "extra"/],
      [["cluster", "status"], /unknown cluster action "status"; expected health/],
      [["cluster", "health", "now"], /unexpected "now"/],
      [["health"], /unknown command "health"/],
    ];
    for (const [argv, message] of cases) {
      const run = await ctl(argv, () => ({ body: {} }));
      assert.equal(run.exitCode, 2, argv.join(" "));
      assert.match(run.stderr, message, argv.join(" "));
      assert.equal(run.stderr.split("\n").length, 1, argv.join(" "));
      assert.deepEqual(run.requests, [], `${argv.join(" ")} must not reach pd`);
    }
  });

  test("kv, cluster health and top-level commands name the unreachable pd URL and exit 1", async () => {
    const port = await closedPort();
    const pd = `http://127.0.0.1:${port}`;
    const cases: Array<[string[], string]> = [
      [["kv", "get", "a"], "/pd/api/v1/members"],
      [["kv", "scan"], "/pd/api/v1/members"],
      [["cluster", "health"], "/pd/api/v1/health"],
      [["store", "list"], "/pd/api/v1/stores"],
      [["tso"], "/pd/api/v1/members"],
    ];
    for (const [argv, path] of cases) {
      const run = await ctl([...argv, "--pd", pd]);
      assert.equal(run.exitCode, 1, argv.join(" "));
      assert.equal(run.stderr.split("\n").length, 1, argv.join(" "));
      assert.ok(run.stderr.startsWith(`ctl: cannot reach pd at ${pd}${path}: `), run.stderr);
    }
  });

  test("TESSERA_PD_HTTP sets the default pd address and --pd overrides it", async () => {
    const saved = process.env.TESSERA_PD_HTTP;
    process.env.TESSERA_PD_HTTP = "http://10.1.2.3:2378";
    try {
      const fromEnv = await ctl(["member"], () => ({ body: {} }));
      const fromFlag = await ctl(["member", "--pd", "10.9.9.9:1"], () => ({ body: {} }));
      assert.equal(fromEnv.requests[0]?.url, "http://10.1.2.3:2378/pd/api/v1/members");
      assert.equal(fromFlag.requests[0]?.url, "http://10.9.9.9:1/pd/api/v1/members");
    } finally {
      if (saved === undefined) delete process.env.TESSERA_PD_HTTP;
      else process.env.TESSERA_PD_HTTP = saved;
    }
  });
});

describe("cluster health", () => {
  const pdAnswers =
    (options: { memberHealthy: boolean; storeHealth: readonly string[]; leaderless: readonly string[] }) =>
    (url: string) => {
      const path = new URL(url).pathname;
      if (path.endsWith("/health"))
        return { body: [{ name: "pd-1", health: options.memberHealthy, client_urls: ["http://x:2379"] }] };
      if (path.endsWith("/stores")) {
        const stores = options.storeHealth.map((health, index) => ({
          id: String(index + 1),
          address: `s${index + 1}`,
          health,
        }));
        return { body: { count: stores.length, stores } };
      }
      const leader = { id: "9", store_id: "1" };
      const regions = ["2", "3", "4"].map((id) => ({
        id,
        ...(options.leaderless.includes(id) ? {} : { leader }),
      }));
      return { body: { count: regions.length, regions } };
    };

  test("a healthy cluster exits 0 and says so; --json has the whole report", async () => {
    const answer = pdAnswers({ memberHealthy: true, storeHealth: ["up", "up", "tombstone"], leaderless: [] });
    const text = await ctl(["cluster", "health"], answer);
    const json = await ctl(["cluster", "health", "--json"], answer);

    assert.equal(text.exitCode, 0, text.stderr);
    assert.match(text.stdout, /\npd-1\s+healthy/);
    assert.match(text.stdout, /\n\s*3\s+s3\s+tombstone/);
    assert.match(text.stdout, /regions: 3, without a leader: 0\ncluster is healthy$/);
    assert.equal(json.exitCode, 0);
    assert.deepEqual(JSON.parse(json.stdout), {
      healthy: true,
      problems: [],
      members: [{ name: "pd-1", healthy: true }],
      stores: [
        { id: "1", address: "s1", health: "up" },
        { id: "2", address: "s2", health: "up" },
        { id: "3", address: "s3", health: "tombstone" },
      ],
      regions: { count: 3, without_leader: [] },
    });
    assert.equal(json.requests.at(-1)?.url, "http://127.0.0.1:2378/pd/api/v1/regions?limit=0");
  });

  test("an unhealthy member, a down store and a leaderless region each make it exit 1", async () => {
    const cases = [
      [{ memberHealthy: false, storeHealth: ["up"], leaderless: [] }, ["pd member pd-1 is unhealthy"]],
      [
        { memberHealthy: true, storeHealth: ["up", "down", "disconnected"], leaderless: [] },
        ["store 2 is down", "store 3 is disconnected"],
      ],
      [
        { memberHealthy: true, storeHealth: ["up"], leaderless: ["3", "4"] },
        ["2 of 3 regions have no leader"],
      ],
      [{ memberHealthy: true, storeHealth: ["offline"], leaderless: [] }, ["no store is serving"]],
    ] as const;
    for (const [options, problems] of cases) {
      const json = await ctl(["cluster", "health", "--json"], pdAnswers(options));
      const text = await ctl(["cluster"], pdAnswers(options));
      assert.equal(json.exitCode, 1, JSON.stringify(options));
      assert.deepEqual(JSON.parse(json.stdout).problems, problems);
      assert.equal(text.exitCode, 1);
      assert.match(text.stdout, new RegExp(`cluster is UNHEALTHY: ${problems.join("; ")}$`));
    }
  });
});
