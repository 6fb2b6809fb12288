import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ChunkChannel } from "./chunk-channel.ts";

const chunk = (value: number) => Uint8Array.of(value);

async function collect(channel: ChunkChannel): Promise<number[]> {
  const values: number[] = [];
  for await (const data of channel) values.push(data[0]!);
  return values;
}

describe("chunk channel", () => {
  test("chunks reach the consumer in order and the loop ends with the channel", async () => {
    const channel = new ChunkChannel();
    const consumed = collect(channel);
    for (const value of [1, 2, 3]) await channel.push(chunk(value));
    channel.end();
    assert.deepEqual(await consumed, [1, 2, 3]);
  });

  test("a push waits until the consumer takes the chunk", async () => {
    const channel = new ChunkChannel();
    let taken = false;
    const pushed = channel.push(chunk(1)).then(() => {
      taken = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(taken, false, "the push resolved before anyone read");
    const iterator = channel[Symbol.asyncIterator]();
    assert.deepEqual((await iterator.next()).value, chunk(1));
    await pushed;
    assert.equal(taken, true);
  });

  test("fail makes the consumer's loop throw, also after some chunks", async () => {
    const channel = new ChunkChannel();
    const consumed = collect(channel);
    await channel.push(chunk(1));
    channel.fail(new Error("stream cut"));
    await assert.rejects(consumed, /stream cut/);
    await assert.rejects(channel.push(chunk(2)), /stream cut/);
  });

  test("a consumer that stops early refuses the pushes still waiting", async () => {
    const channel = new ChunkChannel();
    const iterator = channel[Symbol.asyncIterator]();
    const first = channel.push(chunk(1));
    await iterator.next();
    await first;
    await iterator.return?.();
    await assert.rejects(channel.push(chunk(2)), /closed/);
  });
});
