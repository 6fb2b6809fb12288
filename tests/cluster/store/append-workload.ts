/**
 * Concurrent clients writing unique values to keys they alone own, and the checker of what they read.
 *
 * Each client is sequential: it overwrites one of its keys with a value nobody else ever writes, retries
 * that same value until the cluster acknowledges it (TinyKV's MustPut: a write whose first attempt timed
 * out may have applied, and repeating the same value keeps the outcome unambiguous), and only then moves
 * on. So at any moment the value a key must hold is exactly its last acknowledged value; a read or scan
 * that shows anything else is a violation: a lost acknowledged write, a stale read, or a value nobody
 * wrote. Reads that fail are just retried later: they change nothing.
 *
 * When the workload stops, each client finishes the write it has in hand (the faults are healed by then),
 * bounded by a recovery deadline: a write that cannot complete after healing means the cluster never
 * recovered, which fails the test with the cluster's state.
 */
import type { Random } from "#runtime";

export interface KvPair {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/** What the workload needs of a client (RawKvClient has it). */
export interface KvClient {
  put(key: Uint8Array, value: Uint8Array): Promise<void>;
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  scan(startKey: Uint8Array, endKey: Uint8Array, limit: number): Promise<readonly KvPair[]>;
}

export interface AppendWorkloadOptions {
  /** Prefix of every key and value, unique per test. */
  readonly label: string;
  readonly clients: number;
  readonly keysPerClient: number;
  /** Filler appended to each value, so regions grow in bytes as well as keys. */
  readonly valuePaddingBytes: number;
  /** Share of operations that are reads (gets and scans of the client's own keys) [0.25]. */
  readonly readShare?: number;
  readonly random: Random;
}

export interface WorkloadStats {
  writesAcknowledged: number;
  writeAttemptsFailed: number;
  readsChecked: number;
  scansChecked: number;
  readsFailed: number;
  /** The longest time one write took from its first attempt to its acknowledgement (unavailability). */
  longestWriteMs: number;
  /** Why that write's failed attempts failed (empty when none failed). */
  longestWriteErrors: string;
  /** Failures by error name, to see which faults the clients ran into. */
  readonly errors: Map<string, number>;
}

export class WorkloadStuckError extends Error {
  override readonly name = "WorkloadStuckError";
}

/** Pause after a failed attempt; the client's own backoff has already waited. */
const RETRY_PAUSE_MS = 20;
const SCAN_SHARE_OF_READS = 0.3;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class AppendWorkload {
  readonly stats: WorkloadStats = {
    writesAcknowledged: 0,
    writeAttemptsFailed: 0,
    readsChecked: 0,
    scansChecked: 0,
    readsFailed: 0,
    longestWriteMs: 0,
    longestWriteErrors: "",
    errors: new Map(),
  };
  /** Everything found wrong, with enough detail to see what happened. */
  readonly violations: string[] = [];
  /** Per key (hex): the last acknowledged value. */
  private readonly acknowledged = new Map<string, string>();
  /** Every value any client tried to write, to tell a stale value from one nobody wrote. */
  private readonly written = new Set<string>();
  private running: Promise<void>[] = [];
  private stopping = false;
  private recoveryDeadlineMs = Number.POSITIVE_INFINITY;

  constructor(
    private readonly kv: KvClient,
    private readonly options: AppendWorkloadOptions,
  ) {}

  /** Starts every client (again, after a `stop`). */
  start(): void {
    this.stopping = false;
    this.recoveryDeadlineMs = Number.POSITIVE_INFINITY;
    this.running = Array.from({ length: this.options.clients }, (_, client) =>
      this.runClient(client, this.options.random.fork()),
    );
  }

  /** No new operations; clients keep retrying the write in hand (call once the faults are healed). */
  requestStop(): void {
    this.stopping = true;
  }

  /** Waits for every client to finish its write in hand, at most `recoveryMs`. */
  async stop(recoveryMs: number): Promise<void> {
    this.stopping = true;
    this.recoveryDeadlineMs = Date.now() + recoveryMs;
    await Promise.all(this.running);
    this.running = [];
  }

  /** Reads back every key of every client, one by one and by scanning each client's range. */
  async verify(): Promise<void> {
    for (let client = 0; client < this.options.clients; client++) {
      for (let keyIndex = 0; keyIndex < this.options.keysPerClient; keyIndex++) {
        const key = this.key(client, keyIndex);
        this.checkRead("final get", key, await this.kv.get(key));
      }
      await this.checkScan(client, "final scan");
    }
  }

  get acknowledgedKeys(): number {
    return this.acknowledged.size;
  }

  describeStats(): string {
    const { stats } = this;
    const errors = [...stats.errors].map(([name, count]) => `${name}×${count}`).join(" ");
    return (
      `${stats.writesAcknowledged} writes acknowledged (${stats.writeAttemptsFailed} failed attempts, ` +
      `longest ${stats.longestWriteMs} ms), ` +
      `${stats.readsChecked} reads and ${stats.scansChecked} scans checked (${stats.readsFailed} failed)` +
      (errors === "" ? "" : `; errors: ${errors}`)
    );
  }

  private async runClient(client: number, random: Random): Promise<void> {
    let sequence = 0;
    while (!this.stopping) {
      if (this.acknowledged.size > 0 && random.chance(this.options.readShare ?? 0.25)) {
        await this.readOnce(client, random);
      } else {
        const keyIndex = random.intBelow(this.options.keysPerClient);
        await this.writeUntilAcknowledged(client, keyIndex, sequence++);
      }
    }
  }

  private async writeUntilAcknowledged(client: number, keyIndex: number, sequence: number): Promise<void> {
    const key = this.key(client, keyIndex);
    const value = `${this.options.label}|c${client}|k${keyIndex}|#${sequence}|${"x".repeat(this.options.valuePaddingBytes)}`;
    this.written.add(value);
    const startedMs = Date.now();
    const failures: string[] = [];
    for (let attempt = 1; ; attempt++) {
      try {
        await this.kv.put(key, encoder.encode(value));
        this.acknowledged.set(hexOf(key), value);
        this.stats.writesAcknowledged++;
        this.recordLatency(Date.now() - startedMs, failures);
        return;
      } catch (error) {
        this.stats.writeAttemptsFailed++;
        this.countError(error);
        failures.push(describeError(error));
        if (Date.now() > this.recoveryDeadlineMs) {
          throw new WorkloadStuckError(
            `client ${client}: the write of ${decoder.decode(key)} was not acknowledged within the recovery ` +
              `window after the faults were healed (${attempt} attempts): ${describeError(error)}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
      }
    }
  }

  private recordLatency(latencyMs: number, failures: readonly string[]): void {
    if (latencyMs <= this.stats.longestWriteMs) return;
    this.stats.longestWriteMs = latencyMs;
    this.stats.longestWriteErrors = failures.map((failure) => failure.split("\n")[0]).join(" | ");
  }

  private async readOnce(client: number, random: Random): Promise<void> {
    try {
      if (random.chance(SCAN_SHARE_OF_READS)) {
        await this.checkScan(client, "scan");
        this.stats.scansChecked++;
      } else {
        const key = this.key(client, random.intBelow(this.options.keysPerClient));
        this.checkRead("get", key, await this.kv.get(key));
        this.stats.readsChecked++;
      }
    } catch (error) {
      this.stats.readsFailed++;
      this.countError(error);
    }
  }

  private async checkScan(client: number, what: string): Promise<void> {
    const [start, end] = this.clientRange(client);
    const pairs = await this.kv.scan(start, end, this.options.keysPerClient + 1);
    const seen = new Set<string>();
    for (const pair of pairs) {
      seen.add(hexOf(pair.key));
      this.checkRead(what, pair.key, pair.value);
    }
    for (let keyIndex = 0; keyIndex < this.options.keysPerClient; keyIndex++) {
      const key = this.key(client, keyIndex);
      if (!seen.has(hexOf(key))) this.checkRead(`${what} (key missing)`, key, undefined);
    }
  }

  /** Records a violation unless `actual` is exactly the key's last acknowledged value. */
  private checkRead(what: string, key: Uint8Array, actual: Uint8Array | undefined): void {
    const expected = this.acknowledged.get(hexOf(key));
    const got = actual === undefined ? undefined : decoder.decode(actual);
    if (got === expected) return;
    const keyText = decoder.decode(key);
    if (got === undefined) {
      this.violations.push(`${what} ${keyText}: the acknowledged value ${short(expected)} is lost`);
    } else if (!this.written.has(got)) {
      this.violations.push(`${what} ${keyText}: read ${short(got)}, a value nobody wrote`);
    } else {
      this.violations.push(
        `${what} ${keyText}: read ${short(got)} but the last acknowledged value is ${short(expected)}`,
      );
    }
  }

  private key(client: number, keyIndex: number): Uint8Array {
    return encoder.encode(`${this.clientPrefix(client)}/k${String(keyIndex).padStart(4, "0")}`);
  }

  private clientPrefix(client: number): string {
    return `${this.options.label}/c${String(client).padStart(2, "0")}`;
  }

  /** [prefix + "/", prefix + "0"): "0" follows "/" in byte order, so this is exactly the client's keys. */
  private clientRange(client: number): [Uint8Array, Uint8Array] {
    const prefix = this.clientPrefix(client);
    return [encoder.encode(`${prefix}/`), encoder.encode(`${prefix}0`)];
  }

  private countError(error: unknown): void {
    const name = error instanceof Error ? error.name : typeof error;
    this.stats.errors.set(name, (this.stats.errors.get(name) ?? 0) + 1);
  }
}

function hexOf(key: Uint8Array): string {
  return Buffer.from(key).toString("hex");
}

/** A value without its padding, for messages. */
function short(value: string | undefined): string {
  if (value === undefined) return "(none)";
  return JSON.stringify(value.replace(/\|x+$/, "|…"));
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
