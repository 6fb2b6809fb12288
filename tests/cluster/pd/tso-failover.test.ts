/**
 * The pd client across a pd leader crash: three pd processes on real etcd, 8 clients asking for
 * timestamps, the leader killed with SIGKILL. The clients must find the new leader on their own (stream
 * break → rediscovery through the surviving members), and every timestamp must stay unique, increasing
 * per caller, and above everything handed out before the kill.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PdClient, PdError } from "#client";
import { type EtcdCluster, startEtcdCluster } from "../../support/etcd-cluster.ts";
import { type PdProcess, spawnPd } from "./pd-process.ts";

const CLIENTS = 8;
const CALLERS_PER_CLIENT = 4;
const TIMESTAMPS_PER_PHASE = 30;
/** Bound on the whole failover: lease expiry (2 s), election and the new leader's start-up. */
const FAILOVER_DEADLINE_MS = 45_000;
const RETRY_PAUSE_MS = 20;

type Phase = "before-kill" | "after-kill";

interface Sample {
  readonly phase: Phase;
  readonly timestamp: bigint;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("pd client across a pd leader kill (etcd, 3 pd processes)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tessera-pd-client-failover-"));
  let etcd: EtcdCluster | undefined;
  const members: PdProcess[] = [];
  const clients: PdClient[] = [];

  before(async () => {
    etcd = await startEtcdCluster({ members: 1 });
    const endpoints = etcd.endpoints;
    members.push(
      ...(await Promise.all(
        [1, 2, 3].map((index) =>
          spawnPd({
            name: `pd-${index}`,
            dataDir: join(dataDir, `pd-${index}`),
            etcdEndpoints: endpoints,
            extraArgs: ["--etcd.lease-ttl", "2s"],
          }),
        ),
      )),
    );
    const addresses = members.map((member) => member.clientUrl);
    for (let index = 0; index < CLIENTS; index++) {
      // Each client starts from a different member, so some first meet a follower and follow its hint.
      const rotated = [...addresses.slice(index % 3), ...addresses.slice(0, index % 3)];
      clients.push(await PdClient.connect({ endpoints: rotated, connectTimeoutMs: 20_000 }));
    }
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all(members.map((member) => member.kill("SIGKILL")));
    await etcd?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("timestamps stay unique and increasing, and the clients move to the new leader", async () => {
    const deadlineMs = Date.now() + FAILOVER_DEADLINE_MS;
    const leaderAddress = clients[0]!.leaderAddress;
    const leader = members.find((member) => member.clientUrl === leaderAddress);
    assert.ok(leader !== undefined, `client 0 names ${leaderAddress}, which is no member`);
    assert.ok(
      clients.every((client) => client.leaderAddress === leaderAddress),
      "clients disagree on the leader",
    );

    let phase: Phase = "before-kill";
    let beforeKillDone = 0;
    let killed = false;
    const callers = clients.flatMap((client) =>
      Array.from({ length: CALLERS_PER_CLIENT }, async () => {
        const own: Sample[] = [];
        for (const wanted of ["before-kill", "after-kill"] as const) {
          for (let count = 0; count < TIMESTAMPS_PER_PHASE; count++) {
            own.push({ phase: wanted, timestamp: await timestampWithRetry(client, deadlineMs) });
          }
          if (wanted === "before-kill") {
            beforeKillDone++;
            while (!killed) await sleep(5);
          }
        }
        return own;
      }),
    );
    while (beforeKillDone < callers.length) await sleep(10);
    assert.equal(await leader.kill("SIGKILL"), null);
    phase = "after-kill";
    killed = true;
    const perCaller = await Promise.all(callers);

    for (const own of perCaller) {
      for (let index = 1; index < own.length; index++) {
        assert.ok(own[index]!.timestamp > own[index - 1]!.timestamp, "a caller's timestamps went backwards");
      }
    }
    const all = perCaller.flat();
    assert.equal(
      new Set(all.map((sample) => sample.timestamp)).size,
      all.length,
      "a timestamp was handed out twice",
    );
    const maxBeforeKill = all
      .filter((sample) => sample.phase === "before-kill")
      .reduce((maximum, sample) => (sample.timestamp > maximum ? sample.timestamp : maximum), 0n);
    for (const sample of all.filter((sample) => sample.phase === phase)) {
      assert.ok(sample.timestamp > maxBeforeKill, "a post-kill timestamp is not above the pre-kill ones");
    }
    for (const client of clients) {
      assert.notEqual(client.leaderAddress, leader.clientUrl);
      assert.equal(typeof (await client.allocId()), "bigint");
    }
  });
});

/** A caller's own retry: the client fails requests caught in the crash at once, and the caller asks again. */
async function timestampWithRetry(client: PdClient, deadlineMs: number): Promise<bigint> {
  for (;;) {
    try {
      return await client.getTimestamp();
    } catch (error) {
      if (!(error instanceof PdError) || Date.now() > deadlineMs) throw error;
      await sleep(RETRY_PAUSE_MS);
    }
  }
}
