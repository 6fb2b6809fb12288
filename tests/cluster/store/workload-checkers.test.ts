/**
 * The cluster tests' checkers must catch what they claim to catch: each runs here against an in-memory
 * store that is correct, then against one broken on purpose (losing acknowledged writes, serving stale
 * values, inventing values, losing a swap). A checker that passes a broken store proves nothing.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SeededRandom, sleep } from "#runtime";
import { AppendWorkload, type KvClient, type KvPair } from "./append-workload.ts";
import { CasChainWorkload, type CasClient } from "./cas-chain-workload.ts";

type Fault = "none" | "lose-writes" | "stale-reads" | "invent-values" | "lose-swaps";

const hex = (key: Uint8Array): string => Buffer.from(key).toString("hex");

/** A map behind an async API, with one fault switched on. */
class FakeStore implements KvClient, CasClient {
  private readonly data = new Map<string, { key: Uint8Array; value: Uint8Array }>();
  private readonly previous = new Map<string, Uint8Array>();
  private operations = 0;

  constructor(private readonly fault: Fault) {}

  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    await sleep(0);
    const current = this.data.get(hex(key));
    if (current !== undefined) this.previous.set(hex(key), current.value);
    // Every fifth write is acknowledged but never stored.
    if (this.fault === "lose-writes" && ++this.operations % 5 === 0) return;
    this.data.set(hex(key), { key, value });
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    await sleep(0);
    if (this.fault === "stale-reads" && this.previous.has(hex(key))) return this.previous.get(hex(key));
    if (this.fault === "invent-values" && this.data.has(hex(key)))
      return new TextEncoder().encode("invented");
    return this.data.get(hex(key))?.value;
  }

  async scan(startKey: Uint8Array, endKey: Uint8Array, limit: number): Promise<readonly KvPair[]> {
    await sleep(0);
    return [...this.data.values()]
      .filter(({ key }) => Buffer.compare(key, startKey) >= 0 && Buffer.compare(key, endKey) < 0)
      .sort((left, right) => Buffer.compare(left.key, right.key))
      .slice(0, limit);
  }

  async compareAndSwap(
    key: Uint8Array,
    expected: Uint8Array | undefined,
    value: Uint8Array,
  ): Promise<{ succeeded: boolean; previous: Uint8Array | undefined }> {
    await sleep(0);
    const current = this.data.get(hex(key))?.value;
    const matches =
      current === undefined
        ? expected === undefined
        : expected !== undefined && Buffer.compare(current, expected) === 0;
    // Every third successful swap is acknowledged but never applied.
    if (matches && !(this.fault === "lose-swaps" && ++this.operations % 3 === 0))
      this.data.set(hex(key), { key, value });
    return { succeeded: matches, previous: current };
  }
}

async function runAppend(fault: Fault): Promise<readonly string[]> {
  const workload = new AppendWorkload(new FakeStore(fault), {
    label: "checker",
    clients: 3,
    keysPerClient: 4,
    valuePaddingBytes: 4,
    random: new SeededRandom(7),
  });
  workload.start();
  await sleep(50);
  await workload.stop(1_000);
  await workload.verify();
  return workload.violations;
}

async function runSwaps(fault: Fault): Promise<readonly string[]> {
  const workload = new CasChainWorkload(new FakeStore(fault), {
    label: "checker",
    clients: 3,
    random: new SeededRandom(7),
  });
  workload.start();
  await sleep(50);
  await workload.stop();
  await workload.verify();
  return workload.violations;
}

describe("workload checkers", () => {
  it("the append checker passes a correct store", async () => {
    assert.deepEqual(await runAppend("none"), []);
  });

  it("the append checker reports lost acknowledged writes", async () => {
    assert.ok((await runAppend("lose-writes")).some((violation) => /lost|last acknowledged/.test(violation)));
  });

  it("the append checker reports stale reads", async () => {
    assert.ok(
      (await runAppend("stale-reads")).some((violation) => /last acknowledged value is/.test(violation)),
    );
  });

  it("the append checker reports values nobody wrote", async () => {
    assert.ok((await runAppend("invent-values")).some((violation) => /nobody wrote/.test(violation)));
  });

  it("the swap checker passes a correct store", async () => {
    assert.deepEqual(await runSwaps("none"), []);
  });

  it("the swap checker reports an acknowledged swap that never applied", async () => {
    assert.ok((await runSwaps("lose-swaps")).some((violation) => /was lost/.test(violation)));
  });

  it("the swap checker reports values no swap wrote", async () => {
    assert.ok((await runSwaps("invent-values")).some((violation) => /no swap wrote/.test(violation)));
  });
});
