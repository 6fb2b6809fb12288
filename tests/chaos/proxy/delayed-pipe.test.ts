import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { DelayedPipe } from "./delayed-pipe.ts";

/** The receiving side: records what was written, in order, and whether it was ended. */
class Sink {
  readonly received: string[] = [];
  ended = false;
  write(chunk: Buffer): boolean {
    this.received.push(chunk.toString());
    return true;
  }
  end(): void {
    this.ended = true;
  }
}

describe("DelayedPipe", () => {
  let nowMs = 0;
  let delayMs = 0;
  let source: EventEmitter;
  let sink: Sink;

  beforeEach(() => {
    mock.timers.enable({ apis: ["setTimeout"] });
    nowMs = 0;
    delayMs = 0;
    source = new EventEmitter();
    sink = new Sink();
    new DelayedPipe(
      source as unknown as Duplex,
      sink as unknown as Duplex,
      () => delayMs,
      () => nowMs,
    );
  });

  afterEach(() => mock.timers.reset());

  const advance = (ms: number) => {
    nowMs += ms;
    mock.timers.tick(ms);
  };
  const send = (text: string) => source.emit("data", Buffer.from(text));

  it("passes chunks straight through without a delay", () => {
    send("a");
    send("b");
    assert.deepEqual(sink.received, ["a", "b"]);
  });

  it("holds each chunk back by the delay", () => {
    delayMs = 100;
    send("a");
    advance(99);
    assert.deepEqual(sink.received, []);
    advance(1);
    assert.deepEqual(sink.received, ["a"]);
  });

  it("keeps the order when the delay shrinks or goes away while chunks are held", () => {
    delayMs = 100;
    send("first");
    delayMs = 10;
    send("second");
    delayMs = 0;
    send("third");
    advance(50);
    assert.deepEqual(sink.received, [], "nothing overtakes the first chunk");
    advance(50);
    assert.deepEqual(sink.received, ["first", "second", "third"]);
  });

  it("ends the far side only after the held chunks have left", () => {
    delayMs = 20;
    send("last words");
    source.emit("end");
    assert.equal(sink.ended, false);
    advance(20);
    assert.deepEqual(sink.received, ["last words"]);
    assert.equal(sink.ended, true);
  });
});
