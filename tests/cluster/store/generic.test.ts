/**
 * The GenericTest matrix (TinyKV's 2B/3B GenericTest cases) on pd and real stores over gRPC. Each case
 * prints its seed; `SEED=n node scripts/test.mjs tests/cluster/store/generic` replays its choices.
 */
import { describe, it } from "node:test";
import { type GenericTestOptions, genericTest } from "./generic-test.ts";

const NO_FAULTS = {
  clients: 1,
  unreliable: false,
  crash: false,
  partitions: false,
  maxRaftLog: undefined,
  confChange: false,
  split: false,
} as const satisfies Omit<GenericTestOptions, "label">;

const CASES: readonly GenericTestOptions[] = [
  { ...NO_FAULTS, label: "basic" },
  { ...NO_FAULTS, label: "concurrent", clients: 5 },
  { ...NO_FAULTS, label: "unreliable", clients: 5, unreliable: true },
  { ...NO_FAULTS, label: "crash", clients: 5, crash: true },
  { ...NO_FAULTS, label: "partitions", clients: 5, partitions: true },
  {
    ...NO_FAULTS,
    label: "crash partitions unreliable",
    clients: 5,
    crash: true,
    partitions: true,
    unreliable: true,
  },
  { ...NO_FAULTS, label: "max raft log", clients: 5, maxRaftLog: 50, crash: true, partitions: true },
  { ...NO_FAULTS, label: "conf change", clients: 3, confChange: true },
  { ...NO_FAULTS, label: "split", clients: 5, split: true },
  {
    label: "combined",
    clients: 5,
    unreliable: true,
    crash: true,
    partitions: true,
    maxRaftLog: 50,
    confChange: true,
    split: true,
  },
];

// A guard against a hung cluster (it fails instead of blocking the suite), not a speed assertion.
describe("GenericTest over real gRPC", { timeout: 6 * 60_000 }, () => {
  for (const options of CASES) {
    it(options.label, async () => {
      const report = await genericTest(options);
      console.log(
        `[generic] ${options.label}: seed ${report.seed}, ${report.regions} regions, ${report.snapshots} snapshots, ${report.workload}; nemesis ${report.nemesis}`,
      );
    });
  }
});
