import assert from "node:assert/strict";
import { test } from "node:test";
import { formatBanner, stopCommand } from "./banner.ts";
import type { MemberState, PlaygroundState } from "./state-file.ts";

function memberState(
  name: string,
  role: MemberState["role"],
  endpoint: string,
  httpUrl: string,
): MemberState {
  return {
    name,
    role,
    pid: 100,
    ports: [1, 2],
    endpoint,
    httpUrl,
    dataDir: `/d/${name}`,
    logPath: `/d/logs/${name}.log`,
    stopTimeoutMs: 1000,
  };
}

const STATE: PlaygroundState = {
  version: 1,
  pdCount: 1,
  detached: false,
  launcherPid: 1,
  ready: true,
  updatedAt: "2024-01-01T00:00:00.000Z",
  members: [
    memberState("pd-1", "pd", "127.0.0.1:2379", "http://127.0.0.1:2378"),
    memberState("store-1", "store", "127.0.0.1:20160", "http://127.0.0.1:20180"),
  ],
};

test("the banner lists endpoints, log files and ctl commands against this pd", () => {
  const banner = formatBanner(STATE, "/d");
  assert.match(banner, /pd-1 +127\.0\.0\.1:2379 +http:\/\/127\.0\.0\.1:2378/);
  assert.match(banner, /store-1 +127\.0\.0\.1:20160 +http:\/\/127\.0\.0\.1:20180/);
  assert.ok(banner.includes("/d/logs/store-1.log"));
  assert.ok(banner.includes("npm run ctl -- pd store list --pd http://127.0.0.1:2378"));
  assert.ok(banner.includes("Ctrl-C"));
});

test("a detached banner says how to stop it", () => {
  assert.ok(formatBanner({ ...STATE, detached: true }, "/d").includes(stopCommand("/d")));
});

test("the stop command quotes a data directory the shell would split", () => {
  assert.equal(stopCommand("/tmp/my dir"), "npm run ctl -- playground stop --data-dir '/tmp/my dir'");
  assert.equal(stopCommand("/tmp/plain"), "npm run ctl -- playground stop --data-dir /tmp/plain");
});
