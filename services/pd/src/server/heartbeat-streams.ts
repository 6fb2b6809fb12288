/**
 * The region heartbeat stream each store reported on last (PD's hbStreams). An operator step normally
 * travels as the reply to a region's heartbeat, but a new operator cannot wait for that: a leader
 * reports an unchanged region only every `pd.region-heartbeat-interval` [60 s]. pd sends the first step
 * of a new operator down the stream of the store leading the region instead.
 */
import type { pdpb } from "#proto";

/** One open heartbeat stream; `send` returns false once the stream can no longer be written. */
export interface HeartbeatStreamWriter {
  send(response: pdpb.RegionHeartbeatResponse): boolean;
}

export class HeartbeatStreams {
  private readonly byStore = new Map<bigint, HeartbeatStreamWriter>();

  /** The store's regions are reported on `stream` now; a store has one stream, so it replaces any other. */
  bind(storeId: bigint, stream: HeartbeatStreamWriter): void {
    this.byStore.set(storeId, stream);
  }

  /** The stream ended: forget it for every store still bound to it. */
  unbind(stream: HeartbeatStreamWriter): void {
    for (const [storeId, bound] of this.byStore) if (bound === stream) this.byStore.delete(storeId);
  }

  /**
   * Sends `response` to the store; false when pd has no open stream from it (the step then goes out as
   * the reply to the region's next heartbeat).
   */
  send(storeId: bigint, response: pdpb.RegionHeartbeatResponse): boolean {
    const stream = this.byStore.get(storeId);
    if (stream === undefined) return false;
    if (stream.send(response)) return true;
    this.byStore.delete(storeId);
    return false;
  }
}
