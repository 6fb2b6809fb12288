/**
 * Clients racing compare-and-swaps on ONE shared key, and the checker of the result: a lost update
 * detector for RawCompareAndSwap, which the store evaluates at apply time (and must evaluate the same way
 * when it replays its log after a restart).
 *
 * Each swap writes a fresh id and remembers which value it expected to replace. Applied swaps are totally
 * ordered and each replaced exactly the value before it, so following "replaced" links back from the
 * final value must pass through every swap that applied — in particular through every swap a client saw
 * succeed — and reach the empty key. A swap missing from that chain was acknowledged and then lost; a
 * value that is no swap's id was written by nobody; a chain that loops means a swap applied twice.
 * Swaps whose outcome is unknown (the call failed) may or may not be in the chain.
 */
import type { Random } from "#runtime";

/** What the workload needs of a client (RawKvClient has it). */
export interface CasClient {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  compareAndSwap(
    key: Uint8Array,
    expected: Uint8Array | undefined,
    value: Uint8Array,
  ): Promise<{ readonly succeeded: boolean; readonly previous: Uint8Array | undefined }>;
}

const ROOT = "(absent)";
const PAUSE_AFTER_FAILURE_MS = 20;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class CasChainWorkload {
  readonly violations: string[] = [];
  private readonly key: Uint8Array;
  /** Every swap attempted: its id → the value it expected to replace. */
  private readonly replaced = new Map<string, string>();
  private readonly acknowledged = new Set<string>();
  private unknownOutcomes = 0;
  private nextSequence = 0;
  private refused = 0;
  private running: Promise<void>[] = [];
  private stopping = false;

  constructor(
    private readonly kv: CasClient,
    private readonly options: { readonly label: string; readonly clients: number; readonly random: Random },
  ) {
    this.key = encoder.encode(`${options.label}/cas`);
  }

  start(): void {
    this.stopping = false;
    this.running = Array.from({ length: this.options.clients }, (_, client) =>
      this.runClient(client, this.options.random.fork()),
    );
  }

  requestStop(): void {
    this.stopping = true;
  }

  /** Waits for every client's swap in hand (each call is bounded by the client's own budget). */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
    this.running = [];
  }

  /** Follows the chain back from the key's value and checks every acknowledged swap is on it. */
  async verify(): Promise<void> {
    const final = await this.kv.get(this.key);
    const onChain = new Set<string>();
    let current = final === undefined ? ROOT : decoder.decode(final);
    while (current !== ROOT) {
      const previous = this.replaced.get(current);
      if (previous === undefined) {
        this.violations.push(`the chain reaches ${JSON.stringify(current)}, a value no swap wrote`);
        return;
      }
      if (onChain.has(current)) {
        this.violations.push(`the chain loops at ${JSON.stringify(current)}: a swap applied twice`);
        return;
      }
      onChain.add(current);
      current = previous;
    }
    for (const id of this.acknowledged) {
      if (!onChain.has(id))
        this.violations.push(`the acknowledged swap ${id} is not in the chain: it was lost`);
    }
  }

  describeStats(): string {
    return `${this.acknowledged.size} swaps acknowledged, ${this.refused} refused (stale expectation), ${this.unknownOutcomes} unknown`;
  }

  private async runClient(client: number, random: Random): Promise<void> {
    while (!this.stopping) {
      // Unique across clients and rounds: a repeated id would look like a swap applied twice.
      const id = `c${client}#${this.nextSequence++}`;
      try {
        const current = await this.kv.get(this.key);
        const expected = current === undefined ? ROOT : decoder.decode(current);
        this.checkKnown(expected);
        this.replaced.set(id, expected);
        const result = await this.kv.compareAndSwap(this.key, current, encoder.encode(id));
        if (result.succeeded) this.acknowledged.add(id);
        else this.refused++;
      } catch {
        if (this.replaced.has(id)) this.unknownOutcomes++;
        await new Promise((resolve) => setTimeout(resolve, PAUSE_AFTER_FAILURE_MS + random.intBelow(20)));
      }
    }
  }

  private checkKnown(value: string): void {
    if (value !== ROOT && !this.replaced.has(value)) {
      this.violations.push(`read ${JSON.stringify(value)}, a value no swap wrote`);
    }
  }
}
