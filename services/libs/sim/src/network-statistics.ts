/**
 * Message counters of a `SimNetwork`, per message type and per drop reason, for assertions ("the
 * partition dropped some appends") and for the summary printed when a simulation fails.
 *
 * Every sent message ends up delivered or dropped, and each duplicate adds one more to that outcome, so
 * once the network is idle: delivered + dropped = sent + duplicated.
 */

export interface MessageCounts {
  readonly sent: number;
  readonly delivered: number;
  readonly dropped: number;
  readonly duplicated: number;
}

type MutableCounts = { -readonly [Key in keyof MessageCounts]: MessageCounts[Key] };

const ZERO_COUNTS: MessageCounts = Object.freeze({ sent: 0, delivered: 0, dropped: 0, duplicated: 0 });

export class NetworkStatistics {
  private readonly totals: MutableCounts = { ...ZERO_COUNTS };
  private readonly byType = new Map<string, MutableCounts>();
  private readonly byDropReason = new Map<string, number>();

  get total(): MessageCounts {
    return { ...this.totals };
  }

  forType(messageType: string): MessageCounts {
    const counts = this.byType.get(messageType);
    return counts === undefined ? ZERO_COUNTS : { ...counts };
  }

  /** Message types seen so far, sorted. */
  messageTypes(): string[] {
    return [...this.byType.keys()].sort();
  }

  /** Messages dropped for `reason`: a filter's description, or "sender down", "receiver down", ... */
  droppedFor(reason: string): number {
    return this.byDropReason.get(reason) ?? 0;
  }

  dropReasons(): ReadonlyMap<string, number> {
    return new Map(this.byDropReason);
  }

  recordSent(messageType: string): void {
    this.totals.sent++;
    this.countsFor(messageType).sent++;
  }

  recordDelivered(messageType: string): void {
    this.totals.delivered++;
    this.countsFor(messageType).delivered++;
  }

  recordDuplicated(messageType: string, copies: number): void {
    this.totals.duplicated += copies;
    this.countsFor(messageType).duplicated += copies;
  }

  recordDropped(messageType: string, reason: string): void {
    this.totals.dropped++;
    this.countsFor(messageType).dropped++;
    this.byDropReason.set(reason, (this.byDropReason.get(reason) ?? 0) + 1);
  }

  /** One line per message type and per drop reason, for failure reports. */
  summary(): string {
    const formatCounts = (counts: MessageCounts): string =>
      `sent=${counts.sent} delivered=${counts.delivered} dropped=${counts.dropped} duplicated=${counts.duplicated}`;
    const lines = [`total ${formatCounts(this.totals)}`];
    for (const messageType of this.messageTypes())
      lines.push(`  ${messageType} ${formatCounts(this.byType.get(messageType)!)}`);
    for (const [reason, count] of this.byDropReason) lines.push(`  dropped by ${reason}: ${count}`);
    return lines.join("\n");
  }

  private countsFor(messageType: string): MutableCounts {
    let counts = this.byType.get(messageType);
    if (counts === undefined) {
      counts = { ...ZERO_COUNTS };
      this.byType.set(messageType, counts);
    }
    return counts;
  }
}
