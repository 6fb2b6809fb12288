// The playground's command lines against the services' real config loaders: every flag it passes must
// be accepted, and the ports, upstream endpoints and stop timeouts must agree with what the members
// will actually do. Cheap (no process starts), so a renamed flag fails here before the slow test.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { type ClusterPlan, planCluster } from "../../services/ctl/src/commands/playground/cluster-plan.ts";
import { allocatePorts } from "../../services/ctl/src/commands/playground/port-allocator.ts";
import { repositoryPath } from "./support/repository.ts";
import { loadServiceSettings, portOf, type ServiceName } from "./support/service-settings.ts";

const dataDir = mkdtempSync(join(tmpdir(), "tessera-playground-plan-"));
after(() => rmSync(dataDir, { recursive: true, force: true }));

const ENTRY_POINTS: Readonly<Record<ServiceName, string>> = {
  pd: repositoryPath("services/pd/src/main.ts"),
  store: repositoryPath("services/tikv-store/src/main.ts"),
};

/** The member's flags after `--import tsx <entry point>`, checked to be that service's entry point. */
function serviceArguments(args: readonly string[], service: ServiceName): readonly string[] {
  assert.deepEqual(args.slice(0, 3), ["--import", "tsx", ENTRY_POINTS[service]]);
  return args.slice(3);
}

function plan(pdCount: number): Promise<ClusterPlan> {
  return planCluster({
    options: { storeCount: 3, pdCount, dataDir, detach: false },
    savedPorts: {},
    etcdBinary: pdCount > 1 ? "/usr/bin/etcd" : undefined,
  });
}

describe("playground command lines", () => {
  for (const pdCount of [1, 3]) {
    test(`with --pd ${pdCount}, every pd and store flag loads and matches the planned endpoints`, async () => {
      const cluster = await plan(pdCount);
      assert.equal(cluster.etcd !== undefined, pdCount > 1);
      for (const pd of cluster.pd) {
        const settings = loadServiceSettings("pd", serviceArguments(pd.args, "pd"), {});
        assert.equal(settings.grpcPort, portOf(pd.clientAddress));
        assert.equal(settings.httpPort, portOf(pd.httpUrl));
        assert.equal(settings.dataDir, pd.dataDir);
        assert.deepEqual(
          settings.upstreamEndpoints,
          cluster.etcd === undefined ? [] : [cluster.etcd.clientUrl],
        );
        assert.ok(
          pd.stopTimeoutMs > settings.shutdownDeadlineMs,
          `${pd.name} gets its whole shutdown deadline`,
        );
      }
      for (const store of cluster.stores) {
        const settings = loadServiceSettings("store", serviceArguments(store.args, "store"), {});
        assert.equal(settings.grpcPort, portOf(store.address));
        assert.equal(settings.httpPort, portOf(store.statusUrl));
        assert.equal(settings.dataDir, store.dataDir);
        assert.deepEqual(
          settings.upstreamEndpoints,
          cluster.pd.map((pd) => pd.clientAddress),
        );
        assert.ok(
          store.stopTimeoutMs > settings.shutdownDeadlineMs,
          `${store.name} gets its whole shutdown deadline`,
        );
      }
      const planned = [
        ...cluster.pd.flatMap((pd) => [portOf(pd.clientAddress), portOf(pd.httpUrl)]),
        ...cluster.stores.flatMap((store) => [portOf(store.address), portOf(store.statusUrl)]),
      ];
      assert.equal(new Set(planned).size, planned.length, "no two members share a port");
    });
  }

  test("a member takes the ports it had in the previous run in this data directory", async () => {
    const previous = await allocatePorts([0, 0]);
    const cluster = await planCluster({
      options: { storeCount: 3, pdCount: 1, dataDir, detach: false },
      savedPorts: { "store-2": previous },
      etcdBinary: undefined,
    });
    const storeTwo = cluster.stores[1]!;
    assert.deepEqual([portOf(storeTwo.address), portOf(storeTwo.statusUrl)], previous);
  });
});
