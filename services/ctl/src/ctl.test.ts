import assert from "node:assert/strict";
import { createServer } from "node:net";
import { describe, test } from "node:test";
import type { CliIo } from "./cli-io.ts";
import { runCtl } from "./ctl.ts";
import type { FetchFunction } from "./http.ts";
import { PLAYGROUND_MESSAGE } from "./playground.ts";

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
  test("playground keeps its message", async () => {
    const run = await ctl(["playground"]);
    assert.equal(run.exitCode, 0);
    assert.equal(run.stdout, PLAYGROUND_MESSAGE);
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
});
