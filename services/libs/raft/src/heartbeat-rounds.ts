/** Round send ticks kept for lease extension; an acknowledgement of an older round extends nothing. */
const ROUND_HISTORY = 256;

/**
 * A leader's numbered heartbeat rounds. Each broadcast is a round; followers echo its number back. The
 * latest round acknowledged by a quorum confirms pending ReadIndex requests and starts the leader lease: a
 * quorum heard from us at or after that round's send tick, and those voters refuse to elect anyone else for
 * an election timeout after hearing from us, so no other leader can exist until send tick + election
 * timeout. The lease is kept shorter than that by a margin for clock drift between nodes.
 */
export class HeartbeatRounds {
  private currentRound = 0;
  private confirmedRound = 0;
  private readonly sendTicks = new Float64Array(ROUND_HISTORY);
  private leaseStartTick = Number.NEGATIVE_INFINITY;

  get current(): number {
    return this.currentRound;
  }

  get confirmed(): number {
    return this.confirmedRound;
  }

  reset(): void {
    this.currentRound = 0;
    this.confirmedRound = 0;
    this.leaseStartTick = Number.NEGATIVE_INFINITY;
  }

  /** Starts a round sent at `nowTick` and returns its number. */
  start(nowTick: number): number {
    this.currentRound++;
    this.sendTicks[this.currentRound % ROUND_HISTORY] = nowTick;
    return this.currentRound;
  }

  /** A quorum acknowledged `round`; returns whether that confirms something new. */
  confirm(round: number): boolean {
    if (round <= this.confirmedRound) return false;
    this.confirmedRound = round;
    if (this.currentRound - round < ROUND_HISTORY) {
      const sentTick = this.sendTicks[round % ROUND_HISTORY]!;
      if (sentTick > this.leaseStartTick) this.leaseStartTick = sentTick;
    }
    return true;
  }

  leaseValid(nowTick: number, leaseTicks: number): boolean {
    return nowTick < this.leaseStartTick + leaseTicks;
  }

  /** Ticks of lease left at `nowTick` (0 when expired). */
  leaseRemaining(nowTick: number, leaseTicks: number): number {
    return Math.max(0, this.leaseStartTick + leaseTicks - nowTick);
  }
}
