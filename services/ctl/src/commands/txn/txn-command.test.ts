/**
 * `txn` command lines without a cluster: wrong ones exit 2 with one line before anything reaches pd, help
 * lists the commands, and an unreachable pd exits 1 naming it.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { describe, test } from "node:test";
import type { CliIo } from "../../cli-io.ts";
import { runCtl } from "../../ctl.ts";
import type { FetchFunction } from "../../http.ts";

interface Run {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly requests: readonly string[];
}

/** Runs ctl with captured output and a pd that answers every HTTP request with an empty object. */
async function ctl(argv: string[], options: { readonly fakePd: boolean } = { fakePd: true }): Promise<Run> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const requests: string[] = [];
  const fakeFetch: FetchFunction = async (url) => {
    requests.push(url);
    return new Response("{}");
  };
  const io: CliIo = {
    stdout: (text) => stdout.push(text),
    stderr: (text) => stderr.push(text),
    ...(options.fakePd ? { fetch: fakeFetch } : {}),
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

describe("ctl txn command line", () => {
  test("wrong txn command lines exit 2 with one line, before reaching pd", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["txn"], /missing txn action; expected locks \[--region ID\].*, mvcc KEY/],
      [["txn", "lock"], /unknown txn action "lock"/],
      [["txn", "locks", "extra"], /unexpected "extra"; usage: txn locks/],
      [["txn", "locks", "--region", "0"], /--region must be a positive 64-bit integer, got "0"/],
      [["txn", "locks", "--region", "two"], /--region must be a positive 64-bit integer, got "two"/],
      [["txn", "locks", "--max-ts=-1"], /--max-ts must be a timestamp from 0 to 18446744073709551615/],
      [["txn", "locks", "--max-ts", "18446744073709551616"], /--max-ts must be a timestamp/],
      [["txn", "locks", "--max-ts", "1e5"], /--max-ts must be a timestamp/],
      [["txn", "locks", "--limit", "0"], /--limit must be a whole number from 1 to 100000, got "0"/],
      [["txn", "locks", "--limit", "100001"], /--limit must be a whole number from 1 to 100000/],
      [["txn", "locks", "--key-format", "base64"], /--key-format must be utf8 or hex, got "base64"/],
      [["txn", "locks", "--start", "a"], /Unknown option '--start'/],
      [["txn", "mvcc"], /missing KEY; usage: txn mvcc KEY/],
      [["txn", "mvcc", "a", "b"], /unexpected "b"/],
      [["txn", "mvcc", ""], /KEY must not be empty/],
      [["txn", "mvcc", "zz", "--key-format", "hex"], /KEY "zz" is not hex/],
      [
        ["txn", "mvcc", "a", "--limit", "3", "--region", "2"],
        /txn mvcc does not take --region, --limit; only/,
      ],
      [["txn", "mvcc", "a", "--value-format", "utf16"], /--value-format must be utf8 or hex/],
    ];
    for (const [argv, message] of cases) {
      const run = await ctl(argv);
      assert.equal(run.exitCode, 2, argv.join(" "));
      assert.match(run.stderr, message, argv.join(" "));
      assert.equal(run.stderr.split("\n").length, 1, argv.join(" "));
      assert.ok(run.stderr.endsWith("(see --help)"), run.stderr);
      assert.deepEqual(run.requests, [], `${argv.join(" ")} must not reach pd`);
    }
  });

  test("txn --help prints the ctl usage, which lists both txn commands and their options", async () => {
    const help = await ctl(["--help"]);
    const txnHelp = await ctl(["txn", "--help"]);
    const locksHelp = await ctl(["txn", "locks", "-h"]);

    assert.equal(txnHelp.exitCode, 0);
    assert.equal(txnHelp.stdout, help.stdout);
    assert.equal(locksHelp.stdout, help.stdout);
    for (const words of [
      "txn locks [--region ID] [--max-ts TS] [--limit N]",
      "txn mvcc KEY",
      "(kv, txn, region key)",
    ]) {
      assert.ok(help.stdout.includes(words), words);
    }
    assert.match((await ctl(["nonsense"])).stderr, /available: .*kv, txn, gc, playground/);
  });

  test("an unreachable pd exits 1 with one line naming the URL", async () => {
    const pd = `http://127.0.0.1:${await closedPort()}`;
    for (const argv of [
      ["txn", "locks"],
      ["txn", "mvcc", "a"],
    ]) {
      const run = await ctl([...argv, "--pd", pd], { fakePd: false });
      assert.equal(run.exitCode, 1, argv.join(" "));
      assert.equal(run.stderr.split("\n").length, 1, run.stderr);
      assert.ok(run.stderr.startsWith(`ctl: cannot reach pd at ${pd}/pd/api/v1/members: `), run.stderr);
    }
  });
});
