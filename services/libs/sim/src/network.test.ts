import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SeededRandom } from "#runtime";
import { SimNetwork, type SimNetworkOptions } from "./network.ts";
import { DROP, PASS } from "./network-filter.ts";
import { Scheduler } from "./scheduler.ts";

interface TestMessage {
  readonly type: string;
  readonly sequence: number;
}

interface Received {
  readonly atMs: number;
  readonly from: number;
  readonly to: number;
  readonly message: TestMessage;
}

interface Harness {
  readonly scheduler: Scheduler;
  readonly network: SimNetwork<TestMessage>;
  readonly received: Received[];
  /** Sequence numbers `to` received from `from`, in arrival order. */
  readonly receivedOn: (from: number, to: number) => number[];
}

function harness(
  nodeCount: number,
  options: Partial<Omit<SimNetworkOptions<TestMessage>, "scheduler">> = {},
): Harness {
  const scheduler = new Scheduler();
  const network = new SimNetwork<TestMessage>({
    scheduler,
    random: new SeededRandom(1234),
    classify: (message) => message.type,
    ...options,
  });
  const received: Received[] = [];
  for (let node = 1; node <= nodeCount; node++) {
    network.addNode(node, (message, from) =>
      received.push({ atMs: scheduler.nowMs, from, to: node, message }),
    );
  }
  const receivedOn = (from: number, to: number): number[] =>
    received.filter((entry) => entry.from === from && entry.to === to).map((entry) => entry.message.sequence);
  return { scheduler, network, received, receivedOn };
}

function sendMany(
  network: SimNetwork<TestMessage>,
  from: number,
  to: number,
  count: number,
  type = "ping",
): void {
  for (let sequence = 0; sequence < count; sequence++) network.send(from, to, { type, sequence });
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index);
}

describe("SimNetwork delivery", () => {
  test("delivers after the base latency plus jitter, with the sender's id", () => {
    const { scheduler, network, received } = harness(2, { baseLatencyMs: 10, jitterMs: 5 });
    network.send(1, 2, { type: "ping", sequence: 0 });
    assert.equal(received.length, 0, "nothing arrives before the scheduler runs");
    scheduler.runUntilIdle();
    assert.equal(received.length, 1);
    const [arrival] = received;
    assert.equal(arrival!.from, 1);
    assert.equal(arrival!.to, 2);
    assert.ok(arrival!.atMs >= 10 && arrival!.atMs <= 15, `arrived at ${arrival!.atMs}`);
    assert.deepEqual(network.statistics.forType("ping"), {
      sent: 1,
      delivered: 1,
      dropped: 0,
      duplicated: 0,
    });
  });

  test("each link stays first-in first-out despite jitter", () => {
    const { scheduler, network, receivedOn } = harness(3, { jitterMs: 20 });
    for (let sequence = 0; sequence < 200; sequence++) {
      network.send(1, 2, { type: "ping", sequence });
      network.send(3, 2, { type: "ping", sequence });
      if (sequence % 7 === 0) scheduler.step();
    }
    scheduler.runUntilIdle();
    assert.deepEqual(receivedOn(1, 2), range(200));
    assert.deepEqual(receivedOn(3, 2), range(200));
  });

  test("drops messages to an unknown node", () => {
    const { scheduler, network } = harness(1);
    network.send(1, 9, { type: "ping", sequence: 0 });
    scheduler.runUntilIdle();
    assert.equal(network.statistics.droppedFor("unknown receiver"), 1);
  });

  test("observers see deliveries and drops until they unsubscribe", () => {
    const { scheduler, network } = harness(2);
    const kinds: string[] = [];
    const unsubscribe = network.observe((event) => kinds.push(event.kind));
    network.send(1, 2, { type: "ping", sequence: 0 });
    network.send(1, 7, { type: "ping", sequence: 1 });
    scheduler.runUntilIdle();
    unsubscribe();
    network.send(1, 2, { type: "ping", sequence: 2 });
    scheduler.runUntilIdle();
    assert.deepEqual(kinds.sort(), ["deliver", "drop"]);
  });
});

describe("SimNetwork drop faults", () => {
  test("a global drop with probability 1 drops everything until removed", () => {
    const { scheduler, network, received } = harness(2);
    const filter = network.dropMessages(1);
    sendMany(network, 1, 2, 10);
    scheduler.runUntilIdle();
    assert.equal(received.length, 0);
    assert.equal(network.statistics.total.dropped, 10);
    assert.equal(network.removeFilter(filter), true);
    assert.equal(network.removeFilter(filter), false);
    sendMany(network, 1, 2, 10);
    scheduler.runUntilIdle();
    assert.equal(received.length, 10);
  });

  test("a partial drop loses some messages and delivers the rest in order", () => {
    const { scheduler, network, receivedOn } = harness(2);
    network.dropMessages(0.3);
    sendMany(network, 1, 2, 400);
    scheduler.runUntilIdle();
    const arrived = receivedOn(1, 2);
    assert.ok(arrived.length > 0 && arrived.length < 400, `${arrived.length} of 400 arrived`);
    assert.deepEqual(
      arrived,
      [...arrived].sort((left, right) => left - right),
    );
    assert.equal(network.statistics.total.dropped + arrived.length, 400);
  });

  test("a one-direction drop cuts from → to only", () => {
    const { scheduler, network, receivedOn } = harness(3);
    network.dropMessages(1, { from: 1, to: 2 });
    sendMany(network, 1, 2, 5);
    sendMany(network, 2, 1, 5);
    sendMany(network, 1, 3, 5);
    scheduler.runUntilIdle();
    assert.deepEqual(receivedOn(1, 2), []);
    assert.deepEqual(receivedOn(2, 1), range(5));
    assert.deepEqual(receivedOn(1, 3), range(5));
  });

  test("a link drop cuts both directions and leaves other links alone", () => {
    const { scheduler, network, receivedOn } = harness(3);
    network.dropMessages(1, { from: 1, to: 2, bothDirections: true });
    sendMany(network, 1, 2, 5);
    sendMany(network, 2, 1, 5);
    sendMany(network, 2, 3, 5);
    scheduler.runUntilIdle();
    assert.deepEqual(receivedOn(1, 2), []);
    assert.deepEqual(receivedOn(2, 1), []);
    assert.deepEqual(receivedOn(2, 3), range(5));
  });

  test("a per-type drop affects only that message type", () => {
    const { scheduler, network } = harness(2);
    network.dropMessages(1, { messageType: "append" });
    sendMany(network, 1, 2, 5, "append");
    sendMany(network, 1, 2, 5, "heartbeat");
    scheduler.runUntilIdle();
    assert.deepEqual(network.statistics.forType("append"), {
      sent: 5,
      delivered: 0,
      dropped: 5,
      duplicated: 0,
    });
    assert.deepEqual(network.statistics.forType("heartbeat"), {
      sent: 5,
      delivered: 5,
      dropped: 0,
      duplicated: 0,
    });
    assert.deepEqual(network.statistics.messageTypes(), ["append", "heartbeat"]);
  });
});

describe("SimNetwork partitions", () => {
  function sendAllPairs(network: SimNetwork<TestMessage>, nodes: readonly number[]): void {
    for (const from of nodes)
      for (const to of nodes) if (from !== to) network.send(from, to, { type: "ping", sequence: 0 });
  }

  test("messages flow inside a group but not across groups, and heal restores them", () => {
    const { scheduler, network, received } = harness(6);
    network.partition([
      [1, 2],
      [3, 4, 5],
    ]);
    sendAllPairs(network, [1, 2, 3, 4, 5, 6]);
    scheduler.runUntilIdle();
    const groupOf = (node: number): string => (node <= 2 ? "A" : node <= 5 ? "B" : "none");
    for (const { from, to } of received) {
      const sameSide = groupOf(from) === groupOf(to) || groupOf(from) === "none" || groupOf(to) === "none";
      assert.ok(sameSide, `${from}->${to} crossed the partition`);
    }
    // Inside A: 2 messages, inside B: 6, node 6 with everyone: 10.
    assert.equal(received.length, 2 + 6 + 10);
    assert.equal(network.statistics.droppedFor("partition [1,2]|[3,4,5]"), 12);
    assert.equal(network.heal(), 1);
    received.length = 0;
    sendAllPairs(network, [1, 2, 3, 4, 5]);
    scheduler.runUntilIdle();
    assert.equal(received.length, 20);
  });

  test("isolate cuts one node off in both directions; heal keeps other faults", () => {
    const { scheduler, network, receivedOn } = harness(3);
    network.isolate(3);
    const dropAll = network.dropMessages(1, { from: 1, to: 2 });
    sendMany(network, 1, 3, 3);
    sendMany(network, 3, 2, 3);
    sendMany(network, 2, 1, 3);
    scheduler.runUntilIdle();
    assert.deepEqual(receivedOn(1, 3), []);
    assert.deepEqual(receivedOn(3, 2), []);
    assert.deepEqual(receivedOn(2, 1), range(3));
    network.heal();
    assert.deepEqual(
      network.activeFilters().map((filter) => filter.id),
      [dropAll],
    );
    sendMany(network, 1, 3, 3);
    scheduler.runUntilIdle();
    assert.deepEqual(receivedOn(1, 3), range(3));
  });

  test("a node cannot be in two groups", () => {
    const { network } = harness(3);
    assert.throws(
      () =>
        network.partition([
          [1, 2],
          [2, 3],
        ]),
      /node 2 is listed in two groups/,
    );
  });
});

describe("SimNetwork delay, duplicate and reorder", () => {
  test("delay adds extra latency within the range and keeps the link in order", () => {
    const { scheduler, network, received, receivedOn } = harness(2, { baseLatencyMs: 1, jitterMs: 0 });
    network.delayMessages({ minMs: 100, maxMs: 200 });
    sendMany(network, 1, 2, 50);
    scheduler.runUntilIdle();
    for (const { atMs } of received) assert.ok(atMs >= 101 && atMs <= 201, `arrived at ${atMs}`);
    assert.deepEqual(receivedOn(1, 2), range(50));
  });

  test("duplicate with probability 1 delivers every message twice", () => {
    const { scheduler, network, receivedOn } = harness(2);
    network.duplicateMessages(1);
    sendMany(network, 1, 2, 20);
    scheduler.runUntilIdle();
    const arrived = receivedOn(1, 2);
    assert.equal(arrived.length, 40);
    assert.deepEqual(
      [...new Set(arrived)].sort((left, right) => left - right),
      range(20),
    );
    assert.deepEqual(network.statistics.total, { sent: 20, delivered: 40, dropped: 0, duplicated: 20 });
  });

  test("reorder lets later messages overtake earlier ones without losing any", () => {
    const { scheduler, network, receivedOn } = harness(2);
    network.reorderMessages(0.5, 50);
    sendMany(network, 1, 2, 200);
    scheduler.runUntilIdle();
    const arrived = receivedOn(1, 2);
    assert.notDeepEqual(arrived, range(200));
    assert.deepEqual(
      [...arrived].sort((left, right) => left - right),
      range(200),
    );
  });

  test("a custom filter sees the envelope and its drops are counted under its description", () => {
    const { scheduler, network, receivedOn } = harness(2);
    const seenTypes = new Set<string>();
    network.addFilter((envelope) => {
      seenTypes.add(envelope.messageType);
      return envelope.message.sequence % 2 === 1 ? DROP : PASS;
    }, "drop odd");
    sendMany(network, 1, 2, 10);
    scheduler.runUntilIdle();
    assert.deepEqual(receivedOn(1, 2), [0, 2, 4, 6, 8]);
    assert.deepEqual([...seenTypes], ["ping"]);
    assert.equal(network.statistics.droppedFor("drop odd"), 5);
  });

  test("with every fault combined, each message is accounted for", () => {
    const { scheduler, network } = harness(4);
    network.dropMessages(0.2);
    network.duplicateMessages(0.2);
    network.reorderMessages(0.3, 30);
    network.delayMessages({ minMs: 0, maxMs: 10 }, { messageType: "append" });
    network.partition([[1], [2, 3, 4]]);
    for (let from = 1; from <= 4; from++)
      for (let to = 1; to <= 4; to++) sendMany(network, from, to, 25, "append");
    scheduler.runUntilIdle();
    const total = network.statistics.total;
    assert.equal(network.inFlightCount, 0);
    assert.equal(total.delivered + total.dropped, total.sent + total.duplicated);
    assert.ok(total.delivered > 0 && total.dropped > 0 && total.duplicated > 0, network.statistics.summary());
  });
});

describe("SimNetwork crashed nodes", () => {
  test("a down node neither sends nor receives, and comes back when up", () => {
    const { scheduler, network, receivedOn } = harness(2);
    network.nodeDown(2);
    assert.equal(network.isNodeUp(2), false);
    sendMany(network, 1, 2, 3);
    sendMany(network, 2, 1, 3);
    scheduler.runUntilIdle();
    assert.deepEqual(receivedOn(1, 2), []);
    assert.deepEqual(receivedOn(2, 1), []);
    assert.equal(network.statistics.droppedFor("receiver down"), 3);
    assert.equal(network.statistics.droppedFor("sender down"), 3);
    network.nodeUp(2);
    sendMany(network, 1, 2, 3);
    scheduler.runUntilIdle();
    assert.deepEqual(receivedOn(1, 2), range(3));
  });

  test("messages in flight to a node that crashes are lost, even if it restarts before they arrive", () => {
    const { scheduler, network, received } = harness(2, { baseLatencyMs: 10, jitterMs: 0 });
    const afterRestart: number[] = [];
    sendMany(network, 1, 2, 3);
    scheduler.runFor(5);
    network.nodeDown(2);
    network.nodeUp(2, (message) => afterRestart.push(message.sequence));
    network.send(1, 2, { type: "ping", sequence: 99 });
    scheduler.runUntilIdle();
    assert.equal(received.length, 0);
    assert.deepEqual(afterRestart, [99]);
    assert.equal(network.statistics.droppedFor("receiver restarted"), 3);
  });

  test("the number of messages in flight is bounded", () => {
    const { network } = harness(2, { maxInFlight: 5 });
    sendMany(network, 1, 2, 5);
    assert.throws(() => network.send(1, 2, { type: "ping", sequence: 5 }), /5 messages in flight/);
  });
});
